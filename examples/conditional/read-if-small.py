# Check each file's size first; read it whole only if it is small, otherwise look at a summary.
SMALL_BYTES = 10_000

for path in ["/reports/q3-summary.txt", "/reports/full-ledger.csv"]:
    info = await get_file_info(path=path)
    size = info["size_bytes"]
    if size < SMALL_BYTES:
        content = await read_file(path=path)
        revenue = next(line for line in content.splitlines() if line.startswith("Revenue:"))
        print(f"{path}: {size:,} bytes, read in full ({info['lines']} lines). {revenue}")
    else:
        summary = await summarize_file(path=path, max_lines=3)
        print(f"{path}: {size:,} bytes, too large to read; summarized ({summary['line_count']:,} lines). Head:")
        for line in summary["head"]:
            print(f"  {line}")
