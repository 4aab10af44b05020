# Fetch 10,000 log entries but hand back only the errors: the filtering happens here, not in the model's context.
# Written in hosted code-execution style: json.loads() on each tool result also works in ptc.
import json

logs = json.loads(await fetch_logs(limit=10_000))
errors = [entry for entry in logs if entry["level"] == "ERROR"]

print(f"{len(errors)} ERROR entries in {len(logs):,} log lines. Last 10:")
for entry in errors[-10:]:
    print(f"{entry['timestamp']} [{entry['service']}] {entry['message']}")
