#!/usr/bin/env bash
# Makes a throwaway certificate authority and a server certificate for 127.0.0.1/localhost with
# openssl, for tests and local trials of TLS: scripts/make_test_ca.sh DIR
# Writes DIR/ca.pem (give to agents and farmctl as --tls-ca), DIR/server.pem and DIR/server.key
# (give to farm-controller as --tls-cert/--tls-key), and DIR/other-ca.pem (a CA that signed nothing).
set -euo pipefail
dir="${1:?usage: make_test_ca.sh DIR}"
mkdir -p "$dir"
cd "$dir"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=qfarm test CA" 2>/dev/null
openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.pem -days 2 -subj "/CN=qfarm other CA" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=localhost" 2>/dev/null
printf "subjectAltName=DNS:localhost,IP:127.0.0.1\n" > san.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile san.ext 2>/dev/null
echo "$dir: ca.pem server.pem server.key other-ca.pem"
