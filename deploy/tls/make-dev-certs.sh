#!/usr/bin/env bash
# Makes what docker-compose.tls.yml mounts, for a LOCAL, DEVELOPMENT cluster: a private CA, one
# broker certificate for herald-1..3 / localhost / 127.0.0.1, a token file with an admin token and
# the brokers' peer token, and an ACL. Keys are world-readable so the container user can read them:
# never use these files, or this script's permissions, for a deployment.
#
#   bash deploy/tls/make-dev-certs.sh            # writes deploy/tls/out/ (refuses to overwrite)
#   OUT=/some/dir bash deploy/tls/make-dev-certs.sh
#
# What the brokers need goes to OUT (mounted into the containers); the CA's key and the admin token
# go to OUT-private (mode 700, never mounted): export HERALD_TOKEN=$(cat deploy/tls/out-private/admin-token)
set -euo pipefail
OUT=${OUT:-"$(cd "$(dirname "$0")" && pwd)/out"}
if [ -e "$OUT/ca.pem" ]; then
  echo "make-dev-certs: $OUT already holds certificates; remove it first to make new ones" >&2
  exit 2
fi
command -v openssl >/dev/null || { echo "make-dev-certs: needs openssl" >&2; exit 2; }
PRIVATE="$OUT-private"
mkdir -p "$OUT" "$PRIVATE"
chmod 755 "$OUT"      # the container user (uid 10001) must enter it, whatever the umask
chmod 700 "$PRIVATE"
cd "$OUT"

# a private CA (EC P-256, 1 year)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
  -subj "/CN=herald dev CA" -keyout "$PRIVATE/ca-key.pem" -out ca.pem 2>/dev/null
# one certificate for the three brokers: every name clients and peers use (PKCS#8 key)
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=herald-broker" \
  -keyout broker-key.pem -out broker.csr 2>/dev/null
printf 'subjectAltName=DNS:herald-1,DNS:herald-2,DNS:herald-3,DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n' > broker.ext
openssl x509 -req -in broker.csr -CA ca.pem -CAkey "$PRIVATE/ca-key.pem" -CAcreateserial -days 90 -extfile broker.ext -out broker.pem 2>/dev/null
rm -f broker.csr broker.ext ca.srl

token() { printf 'hrld_%s' "$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=\n')"; }
hash() { printf '%s' "$1" | openssl dgst -sha256 -r | cut -d' ' -f1; }
admin=$(token)
peer=$(token)
{
  echo "# PRINCIPAL sha256:HEX [GROUPS]  (herald token new PRINCIPAL --groups a,b prints a line)"
  echo "admin sha256:$(hash "$admin") admins"
  echo "broker sha256:$(hash "$peer") herald-peers"
} > tokens.txt
printf '%s\n' "$peer" > peer-token
(umask 077; printf '%s\n' "$admin" > "$PRIVATE/admin-token")
cat > acl.yaml <<'ACL'
# deny by default; the admin group may do everything on every topic
- group: admins
  topics: ["*"]
  allow: [publish, subscribe, admin]
ACL
chmod 644 ca.pem broker.pem broker-key.pem tokens.txt peer-token acl.yaml
chmod 600 "$PRIVATE/ca-key.pem"
echo "make-dev-certs: wrote $OUT (CA ca.pem, broker.pem + broker-key.pem, tokens.txt, peer-token, acl.yaml)" >&2
echo "make-dev-certs: the CA key and the admin token are in $PRIVATE:  export HERALD_TOKEN=\$(cat $PRIVATE/admin-token)" >&2
