#!/bin/sh
# Build and run the libFuzzer harness (hb_fuzz.c) under AddressSanitizer and UBSan.
# Needs clang-14 and libclang-rt-14-dev (Debian). Work files go under $OUT (default
# /work/logs/hb-fuzz): the binary, the corpus (seeded with every message of the captures
# in tests/data/heartbeat-captures, both forms) and any crash inputs.
#   bench/libfuzzer/run.sh [seconds]     (default 600)
set -eu
cd "$(dirname "$0")/../.."
OUT=${OUT:-/work/logs/hb-fuzz}
SECONDS_TO_RUN=${1:-600}
mkdir -p "$OUT/corpus"
clang-14 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
  -Icsrc csrc/tb_frame.c csrc/tb_mac.c csrc/tb_cobs.c csrc/tb_deframe.c csrc/tb_base64.c \
  csrc/tb_hb.c csrc/tb_hb_encode.c bench/libfuzzer/hb_fuzz.c -lcrypto -o "$OUT/hb_fuzz"
.venv/bin/python - "$OUT/corpus" <<'PY'
import hashlib, sys
from pathlib import Path
sys.path.insert(0, "tests")
import hb_captures as cap
from twinbeat import wire
out = Path(sys.argv[1])
for method in cap.METHODS:
    seeds = [d.payload for d in cap.pcap_datagrams(cap.CAPTURES / f"hb-{method}.pcap")]
    for chunks in cap.serial_streams(cap.CAPTURES / f"serial-{method}.dump").values():
        seeds.append(b"".join(chunks)[:4000])
        deframer = wire.Deframer()
        seeds += [m for c in chunks for m in deframer.feed(c)]
    for s in seeds:
        (out / hashlib.sha1(s).hexdigest()).write_bytes(s)
PY
exec "$OUT/hb_fuzz" -max_len=4200 -max_total_time="$SECONDS_TO_RUN" -print_final_stats=1 \
  -artifact_prefix="$OUT/" "$OUT/corpus"
