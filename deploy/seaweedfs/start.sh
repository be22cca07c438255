#!/bin/sh
# The object store of docker-compose.yml: SeaweedFS (master, volume, filer and S3 gateway in one process).
# The S3 identity's keys come from the environment, never from a file in the repository; the bucket is
# created once it answers (again at each start: an existing bucket is left as it is).
# WEED_* change the binary, folders and ports (tests/test_deployment_objectstore.py runs it outside Docker).
set -eu
: "${TRAINYARD_S3_ACCESS_KEY_ID:?set TRAINYARD_S3_ACCESS_KEY_ID}"
: "${TRAINYARD_S3_SECRET_ACCESS_KEY:?set TRAINYARD_S3_SECRET_ACCESS_KEY}"
BUCKET="${TRAINYARD_S3_BUCKET:-trainyard}"
WEED="${WEED:-weed}"
MASTER_PORT="${WEED_MASTER_PORT:-9333}"
CONFIG="${WEED_CONFIG:-/tmp/s3.json}"
umask 077
cat > "$CONFIG" <<JSON
{"identities": [{"name": "trainyard",
  "credentials": [{"accessKey": "${TRAINYARD_S3_ACCESS_KEY_ID}", "secretKey": "${TRAINYARD_S3_SECRET_ACCESS_KEY}"}],
  "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}
JSON

"$WEED" server -dir="${WEED_DIR:-/data}" -s3 -s3.port="${WEED_S3_PORT:-8333}" -s3.config="$CONFIG" \
  -master.port="$MASTER_PORT" -volume.port="${WEED_VOLUME_PORT:-8080}" -filer.port="${WEED_FILER_PORT:-8888}" \
  -volume.max=0 -master.volumeSizeLimitMB=1024 &
server=$!
trap 'kill -TERM "$server"; wait "$server"; exit 0' TERM INT

tries=0
until echo "s3.bucket.list" | "$WEED" shell -master="localhost:$MASTER_PORT" 2>/dev/null | grep -qw -- "$BUCKET"; do
  tries=$((tries + 1))
  [ "$tries" -le 60 ] || { echo "could not create the bucket $BUCKET" >&2; break; }
  sleep 2
  echo "s3.bucket.create -name $BUCKET" | "$WEED" shell -master="localhost:$MASTER_PORT" >/dev/null 2>&1 || true
done
echo "the bucket $BUCKET is ready"
wait "$server"
