# Revenue for all 50 regions: one query per region, all in flight at once with asyncio.gather.
import asyncio

regions = await query_database(sql="SELECT id, name FROM regions ORDER BY id")


async def revenue(region: dict) -> tuple[str, int]:
    rows = await query_database(
        sql=f"SELECT COALESCE(SUM(amount_cents), 0) AS cents FROM orders "
        f"WHERE region_id = {int(region['id'])} AND status = 'completed'"
    )
    return region["name"], rows[0]["cents"]


totals = await asyncio.gather(*(revenue(region) for region in regions))
ranked = sorted(totals, key=lambda item: item[1], reverse=True)

print(f"Top 3 of {len(totals)} regions by completed-order revenue:")
for rank, (name, cents) in enumerate(ranked[:3], start=1):
    print(f"{rank}. {name}: ${cents / 100:,.2f}")
print(f"Grand total: ${sum(cents for _, cents in totals) / 100:,.2f}")
