#!/usr/bin/env bash
# bench_s3.sh: `make bench`, part s3 (issue 20): the remote copy's upload. The same archives
# go to a SeaweedFS server on loopback (scripts/s3-rig.sh's weed, started here) with
# docker-maim's Put (internal/backup/s3, driven by test/bench/s3put) and with boto3's managed
# multipart upload (boto3.s3.transfer, its default TransferConfig: 8 MiB parts, 10 threads),
# side by side in one run, alternating, the fastest of BENCH_RUNS (default 2) runs kept:
#   - a backup: 1 GiB of incompressible data split as a backup is (768, 192, 56 and 8 MiB
#     archives, a manifest);
#   - one 2 GiB archive.
# Targets: Put's time at most 1.3x boto3's; Put's peak RSS (VmHWM of its process) < 100 MiB.
# boto3's peak RSS (ru_maxrss) is shown beside it for reference.
# Environment: BENCH_RUNS=N, BENCH_DATA_DIR=DIR (where the data and the server's files go).
# Exit status: 0 every target passes, 1 one fails, 2 setup error. Everything it made (the
# server, its files, the data) is removed on exit, also on failure and Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${BENCH_RUNS:-2}
work=$(mktemp -d "${BENCH_DATA_DIR:-${TMPDIR:-/tmp}}/maim-bench-s3.XXXXXX")
weed_pid=
cleanup() {
  trap - EXIT INT TERM
  if [ -n "$weed_pid" ]; then
    kill "$weed_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$weed_pid" 2>/dev/null || break; sleep 0.2; done
    kill -9 "$weed_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
die() { echo "bench_s3: $*" >&2; exit 2; }

weed=$(bash scripts/s3-rig.sh | tail -n 1) || die "could not build weed (scripts/s3-rig.sh)"
python3 -c 'import boto3' 2>/dev/null || die "python3 with boto3 is needed"
GOTOOLCHAIN=local CGO_ENABLED=0 go build -o "$work/s3put" ./test/bench/s3put || die "could not build test/bench/s3put"

read -r p1 p2 p3 p4 p5 p6 p7 p8 < <(python3 -c '
import socket
ss = [socket.socket() for _ in range(8)]
for s in ss: s.bind(("127.0.0.1", 0))
print(*[s.getsockname()[1] for s in ss])')
mkdir -p "$work/weed" "$work/a" "$work/b"
export AWS_ACCESS_KEY_ID=maimbench AWS_SECRET_ACCESS_KEY=maim-bench-secret-$$ AWS_REGION=us-east-1
export AWS_ENDPOINT_URL=http://127.0.0.1:$p7 AWS_CONFIG_FILE=$work/none AWS_SHARED_CREDENTIALS_FILE=$work/none
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL_S3 AWS_DEFAULT_REGION
printf '{"identities":[{"name":"bench","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","List","Tagging","Write"]}]}' \
  "$AWS_ACCESS_KEY_ID" "$AWS_SECRET_ACCESS_KEY" >"$work/weed/s3.json"
"$weed" server -dir="$work/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
  -master.port="$p1" -master.port.grpc="$p2" -master.volumeSizeLimitMB=1024 \
  -volume.port="$p3" -volume.port.grpc="$p4" -volume.max=0 \
  -filer -filer.port="$p5" -filer.port.grpc="$p6" \
  -s3 -s3.port="$p7" -s3.port.iceberg=0 -s3.port.lance=0 -s3.port.grpc="$p8" -s3.config="$work/weed/s3.json" >"$work/weed/log" 2>&1 &
weed_pid=$!
disown "$weed_pid" # its end is the cleanup's, not a job report

# boto3, the reference; also makes the bucket, empties it between runs.
cat >"$work/boto.py" <<'PY'
import os, resource, sys, time
import boto3, botocore.config
from boto3.s3.transfer import TransferConfig
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"],
                  config=botocore.config.Config(s3={"addressing_style": "path"}))
cmd, bucket = sys.argv[1], "bench"
if cmd == "mkbucket":
    for _ in range(600):
        try:
            s3.create_bucket(Bucket=bucket); sys.exit(0)
        except Exception as e:
            err = e; time.sleep(0.2)
    sys.exit("no bucket: %s" % err)
elif cmd == "empty":
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for o in page.get("Contents", []):
            s3.delete_object(Bucket=bucket, Key=o["Key"])
elif cmd == "put":
    prefix, files = sys.argv[2], sys.argv[3:]
    start, total = time.time(), 0
    for f in files:
        s3.upload_file(f, bucket, prefix + "/" + os.path.basename(f), Config=TransferConfig())
        total += os.path.getsize(f)
    print("seconds=%.3f bytes=%d hwm_kib=%d" % (time.time() - start, total, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
PY
python3 "$work/boto.py" mkbucket || { tail -20 "$work/weed/log" >&2; die "SeaweedFS did not start"; }

echo "bench_s3: writing 3 GiB of random data into $work" >&2
mib() { head -c "$(($2 << 20))" /dev/urandom >"$1"; }
mib "$work/a/00-data.tar.zst" 768; mib "$work/a/01-db.tar.zst" 192; mib "$work/a/02-config.tar.zst" 56; mib "$work/a/03-logs.tar.zst" 8
head -c 4096 /dev/urandom | base64 >"$work/a/manifest.json"
mib "$work/b/archive.tar.zst" 2048
cat "$work"/a/* "$work"/b/* >/dev/null # both read from the page cache alike

field() { sed -n "s/.*$1=\([0-9.]*\).*/\1/p" <<<"$2"; }
STATUS=0
verdict() { if [ "$1" = 1 ]; then echo "PASS  $2"; else echo "FAIL  $2"; STATUS=1; fi; }
rows=()
for set in a b; do
  best_m= best_b= hwm_m=0 hwm_b=0 bytes=
  for run in $(seq "$RUNS"); do
    out=$("$work/s3put" "s3://bench/maim$run" demo "$set" "$work/$set"/*) || die "s3put failed: $out"
    s=$(field seconds "$out"); h=$(field hwm_kib "$out"); bytes=$(field bytes "$out")
    [ -z "$best_m" ] || awk -v a="$s" -v b="$best_m" 'BEGIN{exit !(a<b)}' && best_m=$s
    [ "$h" -gt "$hwm_m" ] && hwm_m=$h
    python3 "$work/boto.py" empty
    out=$(python3 "$work/boto.py" put "boto$run/demo/$set" "$work/$set"/*) || die "boto3 failed: $out"
    s=$(field seconds "$out"); h=$(field hwm_kib "$out")
    [ -z "$best_b" ] || awk -v a="$s" -v b="$best_b" 'BEGIN{exit !(a<b)}' && best_b=$s
    [ "$h" -gt "$hwm_b" ] && hwm_b=$h
    python3 "$work/boto.py" empty
  done
  name="backup, 1 GiB in 5 files"; [ "$set" = b ] && name="one 2 GiB archive"
  rows+=("$(awk -v n="$name" -v by="$bytes" -v m="$best_m" -v b="$best_b" -v hm="$hwm_m" -v hb="$hwm_b" 'BEGIN{
    printf "%-26s %8.2f %8.2f %10.0f %10.0f %6.2fx %8.0f %8.0f", n, m, b, by/1048576/m, by/1048576/b, m/b, hm/1024, hb/1024}')")
  verdict "$(awk -v m="$best_m" -v b="$best_b" 'BEGIN{print (m <= 1.3*b) ? 1 : 0}')" "$name: Put $best_m s <= 1.3 x boto3 $best_b s"
  verdict "$(awk -v h="$hwm_m" 'BEGIN{print (h < 100*1024) ? 1 : 0}')" "$name: Put peak RSS $((hwm_m / 1024)) MiB < 100 MiB"
done
echo
printf '%-26s %8s %8s %10s %10s %7s %8s %8s\n' "upload to SeaweedFS" "Put s" "boto3 s" "Put MiB/s" "boto MiB/s" "ratio" "Put MiB" "boto MiB"
printf '%s\n' "${rows[@]}"
echo "(fastest of $RUNS runs each, alternating; peak RSS = VmHWM of the uploading process; loopback, server on the same CPUs)"
exit "$STATUS"
