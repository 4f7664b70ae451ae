#!/usr/bin/env bash
# tests/tools/gen_certs.sh DIR -- throwaway certificates for tests and
# `make run-tls`, made with the openssl command (never for production: the
# keys are unencrypted and the CA key sits next to them).
#   DIR/ca.crt ca.key          the cluster's CA
#   DIR/node.crt node.key      a node/server certificate signed by it
#                              (SAN: IP 127.0.0.1, DNS localhost; usable as
#                              server and as client: replication is mutual TLS)
#   DIR/client.crt client.key  a client certificate signed by it
#   DIR/other-ca.crt other-ca.key            a SECOND, unrelated CA
#   DIR/other.crt other.key    a node/client certificate signed by the other CA
#                              (same SAN: only its issuer is wrong)
# Existing files are overwritten. Prints nothing unless something fails.
set -eu
DIR=${1:?usage: gen_certs.sh DIR}
DAYS=${DAYS:-3650}
mkdir -p "$DIR"
cd "$DIR"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
q() { "$@" >"$tmp/out" 2>&1 || { cat "$tmp/out" >&2; exit 1; }; }

ca() { # name, subject
    q openssl req -x509 -new -nodes -newkey rsa:2048 -sha256 -days "$DAYS" \
        -keyout "$1.key" -out "$1.crt" -subj "$2" \
        -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
}
leaf() { # name, ca, subject, extendedKeyUsage
    q openssl req -new -nodes -newkey rsa:2048 -sha256 -keyout "$1.key" -out "$tmp/$1.csr" -subj "$3"
    cat >"$tmp/$1.ext" <<EXT
basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=$4
subjectAltName=IP:127.0.0.1,DNS:localhost
EXT
    q openssl x509 -req -in "$tmp/$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial \
        -CAserial "$tmp/$2.srl" -days "$DAYS" -sha256 -extfile "$tmp/$1.ext" -out "$1.crt"
}

ca ca "/O=rkv test/CN=rkv test CA"
leaf node ca "/O=rkv test/CN=rkv node" "serverAuth,clientAuth"
leaf client ca "/O=rkv test/CN=rkv client" "clientAuth"
ca other-ca "/O=somebody else/CN=unrelated CA"
leaf other other-ca "/O=somebody else/CN=rkv node (other CA)" "serverAuth,clientAuth"
chmod 600 ./*.key
