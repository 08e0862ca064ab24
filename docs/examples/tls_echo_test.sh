#!/usr/bin/env bash
# tls_echo with a real TLS client (openssl s_client): a self-signed
# certificate made here, verified by the client (chain and host name); lines
# echoed; "quit" answered with "bye" and a clean TLS close; a client that
# speaks no TLS is refused without hurting the server; a second session works;
# Ctrl-C stops the server with status 0.
set -euo pipefail
source "$(dirname "$0")/server_test_lib.sh"
command -v openssl >/dev/null || { echo "tls_echo_test: needs the openssl tool (apt-get install openssl)"; exit 1; }

dir="$(mktemp -d)"
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -addext subjectAltName=DNS:localhost \
  -days 1 -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
start_server "$1" tls_echo "$dir/cert.pem" "$dir/key.pem"

session() {  # session INPUT: one s_client run, its decrypted output on stdout.
  printf '%s' "$1" | timeout 20 openssl s_client -connect "127.0.0.1:$port" -CAfile "$dir/cert.pem" \
    -verify_return_error -verify_hostname localhost -servername localhost -quiet 2>"$dir/client.err"
}

got="$(session $'hello over tls\nsecond line\nquit\n')" || { cat "$dir/client.err"; exit 1; }
expect_eq "echo" "$got" "$(printf 'hello over tls\nsecond line\nbye')"
grep -q "verify return:1" "$dir/client.err" || { echo "certificate not verified:"; cat "$dir/client.err"; exit 1; }

# Plain text instead of a ClientHello: that connection fails, the server goes on.
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET / HTTP/1.0\r\n\r\n' >&3
cat <&3 >/dev/null || true
exec 3<&-
for _ in $(seq 100); do grep -q "TLS handshake with 127.0.0.1:.* failed" "$server_out" && break; sleep 0.05; done
grep -q "TLS handshake with 127.0.0.1:.* failed" "$server_out" || { echo "no handshake failure logged:"; cat "$server_out"; exit 1; }

# A large line (64 KiB: several TLS records each way).
big="$(head -c 49152 /dev/zero | base64 -w0)"
got="$(session "$big"$'\nquit\n')" || { cat "$dir/client.err"; exit 1; }
expect_eq "large line" "${#got}" "$(( ${#big} + 4 ))"

stop_server
rm -rf "$dir"
echo "tls_echo_test: ok"
