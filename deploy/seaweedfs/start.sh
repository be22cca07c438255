#!/bin/sh
# The object store of docker-compose.yml: SeaweedFS (master, volume, filer and S3 gateway in one process).
# The S3 identity's keys come from the environment, never from a file in the repository; the bucket is
# created once it answers (again at each start: an existing bucket is left as it is).
set -eu
: "${TRAINYARD_S3_ACCESS_KEY_ID:?set TRAINYARD_S3_ACCESS_KEY_ID}"
: "${TRAINYARD_S3_SECRET_ACCESS_KEY:?set TRAINYARD_S3_SECRET_ACCESS_KEY}"
BUCKET="${TRAINYARD_S3_BUCKET:-trainyard}"
umask 077
cat > /tmp/s3.json <<JSON
{"identities": [{"name": "trainyard",
  "credentials": [{"accessKey": "${TRAINYARD_S3_ACCESS_KEY_ID}", "secretKey": "${TRAINYARD_S3_SECRET_ACCESS_KEY}"}],
  "actions": ["Admin", "Read", "List", "Tagging", "Write"]}]}
JSON

weed server -dir=/data -s3 -s3.port=8333 -s3.config=/tmp/s3.json -volume.max=0 -master.volumeSizeLimitMB=1024 &
server=$!
trap 'kill -TERM "$server"; wait "$server"; exit 0' TERM INT

tries=0
until echo "s3.bucket.list" | weed shell 2>/dev/null | grep -qw -- "$BUCKET"; do
  tries=$((tries + 1))
  [ "$tries" -le 60 ] || { echo "could not create the bucket $BUCKET" >&2; break; }
  sleep 2
  echo "s3.bucket.create -name $BUCKET" | weed shell >/dev/null 2>&1 || true
done
wait "$server"
