# Which of the five core regions brought in the most revenue?
# One query per region, aggregated here: only the answer reaches the model, not the five results.
REGIONS = ["North", "South", "East", "West", "Central"]

totals = {}
for region in REGIONS:
    rows = await query_database(
        sql=f"""
            SELECT COALESCE(SUM(o.amount_cents), 0) AS revenue_cents
            FROM orders o JOIN regions r ON r.id = o.region_id
            WHERE r.name = '{region}' AND o.status = 'completed'
        """
    )
    totals[region] = rows[0]["revenue_cents"]

top = max(totals, key=totals.get)
print(f"Top region: {top} with ${totals[top] / 100:,.2f} in completed-order revenue")
