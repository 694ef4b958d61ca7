#!/usr/bin/env python3
"""Names the functions behind code addresses of kelp's release binary, for link/startup-text.txt.

    startup_text.py MAP ADDRESSES... > names

MAP is the linker's map of the binary (written where KELP_LINK_MAP says, see build.rs); each
ADDRESSES file holds one address a line, as the binary's own (link-time) addresses: those of
the functions a run under callgrind entered, or of the page faults `perf record -e page-faults
-d` saw. Prints, once each, the symbol of every function section holding one of them (what
`--symbol-ordering-file` takes), then says on stderr how many and how large.
"""

import bisect
import re
import sys

SECTION = re.compile(r"^\s*([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)\s+\d+\s+\S.*:\((\.text\.[^)]*)\)$")


def sections(map_path):
    found = []
    with open(map_path, errors="replace") as lines:
        for line in lines:
            match = SECTION.match(line.rstrip("\n"))
            if match:
                start, size, name = match.groups()
                symbol = re.sub(r"^\.text\.(unlikely\.|hot\.)?", "", name)
                found.append((int(start, 16), int(size, 16), symbol))
    found.sort()
    return found


def main():
    found = sections(sys.argv[1])
    starts = [start for start, _, _ in found]
    named, seen, size = [], set(), 0
    for path in sys.argv[2:]:
        with open(path) as lines:
            for line in lines:
                text = re.match(r"\s*(0x[0-9a-fA-F]+)", line)
                if not text:
                    continue
                address = int(text.group(1), 16)
                i = bisect.bisect_right(starts, address) - 1
                if i < 0 or address >= found[i][0] + found[i][1]:
                    continue
                symbol = found[i][2]
                if symbol not in seen:
                    seen.add(symbol)
                    named.append(symbol)
                    size += found[i][1]
    print(f"{len(named)} functions, {size // 1024} kB", file=sys.stderr)
    print("\n".join(named))


if __name__ == "__main__":
    main()
