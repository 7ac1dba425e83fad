"""One writer of benchmarks/ledger.py: N versioned state changes; prints conflicts, start and end."""

import sys
import time

from weipian.ledger import ConflictError, Ledger

location, proc, n, ids = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4].split(",")
conflicts = 0
with Ledger(location) as ledger:
    start = time.time()
    for k in range(n):
        pid = ids[(k * 7 + proc) % len(ids)]
        while True:
            state, version = ledger.state_of(pid)
            target = "已整改" if state == "整改中" else "整改中"
            try:
                ledger.set_state(pid, target, who=f"w{proc}", note=f"{proc}-{k}", expected_version=version)
                break
            except ConflictError:
                conflicts += 1
    end = time.time()
print(conflicts, start, end)
