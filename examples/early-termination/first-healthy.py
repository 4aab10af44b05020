# Check endpoints in order and stop at the first healthy one: the remaining endpoints are never called.
# Written in hosted code-execution style (async def main + asyncio.run, json.loads on results).
import asyncio
import json

ENDPOINTS = [f"https://api-{n}.internal/health" for n in range(1, 6)]


async def main() -> None:
    for checked, url in enumerate(ENDPOINTS, start=1):
        status = json.loads(await check_endpoint(url=url))
        if status["healthy"]:
            latency = status["latency_ms"]
            print(f"First healthy endpoint: {url} ({latency} ms), found after {checked} of {len(ENDPOINTS)} checks")
            return
    print(f"No healthy endpoint among {len(ENDPOINTS)}")


asyncio.run(main())
