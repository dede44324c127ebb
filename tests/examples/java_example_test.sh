#!/usr/bin/env bash
# The Java example (examples/java) end to end, so that it keeps working: a
# real yilian-broker serving HTTPS with client certificates (a throwaway CA,
# server and client certificates made with openssl), a publisher token and a
# certificate fingerprint in its tokens file, and a webhook pointing at the
# example's WebhookReceiver; the demo's five agencies answered PROCESSED by
# `yilian consume`. The example's Publisher publishes ESTABLISHED events with
# the client certificate (all ACCEPTED), then the same events again with the
# token as well (all DUPLICATE); the test polls, with a deadline, until the
# receiver has handled a signed CASE_COMPLETED update for each event, and
# checks that forged and stale webhook requests are refused.
#   tests/examples/java_example_test.sh BUILD_DIR
# Needs javac (scripts/setup installs default-jdk-headless): without it the
# test fails, it is never skipped.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${1:?usage: java_example_test.sh BUILD_DIR}"
broker_bin="$build/broker/server/yilian-broker"
yilian="$build/cli/yilian"
run_sh="$root/examples/java/run.sh"
enterprises=4
seed=4242
agencies=(tax social_insurance housing_fund bank:ICBC bank:CCB)

umask 077
work="$(mktemp -d "${TMPDIR:-/tmp}/yilian-java-example-test-XXXXXX")"
export YILIAN_JAVA_OUT="$work/java"
pids=()
receiver=""
cleanup() {
  local code=$?
  for pid in "${pids[@]}" $receiver; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if ((code == 0)); then rm -rf "$work"; else echo "java_example_test: files kept in $work" >&2; fi
}
trap cleanup EXIT

fail() {
  echo "java_example_test: FAIL: $1" >&2
  for f in "$work"/*.log "$work"/*.out "$work"/*.err; do
    [[ -s $f ]] && { echo "--- last lines of $f" >&2; tail -n 15 "$f" >&2; }
  done
  exit 1
}
now_ms() { date +%s%3N; }
# Polls a command until it succeeds or SECONDS have passed: wait_for SECONDS CMD...
wait_for() {
  local deadline=$(($(now_ms) + $1 * 1000))
  shift
  until "$@"; do
    (($(now_ms) < deadline)) || return 1
    sleep 0.1
  done
}

command -v javac >/dev/null ||
  fail "javac not found: the Java example needs a JDK 17 or later (scripts/setup installs default-jdk-headless)"
command -v openssl >/dev/null || fail "the openssl tool is missing (scripts/setup installs it)"
[[ -x $broker_bin && -x $yilian ]] || fail "no yilian-broker or yilian in $build: build them first"
"$run_sh" build > "$work/javac.out" 2> "$work/javac.err" || fail "the Java example does not compile"

# --- The check characters of DOMAIN's test vectors -----------------------
"$run_sh" check uscc 91350100M000100Y43 91110000600037341L 91310115MA1K3BTP2B 9144030071526726XG \
  121200004013590816 92340602MA2PBMEM24 > "$work/check.out" || fail "a valid USCC was found invalid"
for code in 91350100M000100Y4Z 91350100M000100I43 91350100m000100Y43 91350100M000100Y4; do
  "$run_sh" check uscc "$code" >> "$work/check.out" && fail "the invalid USCC $code was found valid"
done
"$run_sh" check id 11010519491231002X 440524188001010014 360426199101010071 44011320141005001X \
  >> "$work/check.out" || fail "a valid resident ID was found invalid"
"$run_sh" check id 110105194912310021 >> "$work/check.out" && fail "the invalid resident ID was found valid"

# --- Certificates: a CA, the broker's (for 127.0.0.1), the platform's ----
cd "$work"
ssl() { openssl "$@" >> "$work/openssl.out" 2>&1 || fail "openssl $1 failed"; }
ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
ssl req -x509 "${ec[@]}" -keyout ca.key -out ca.crt -days 2 -subj "/CN=yilian example test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
issue() {  # issue NAME SUBJECT EXTENSIONS
  ssl req "${ec[@]}" -keyout "$1.key" -out "$1.csr" -subj "$2"
  printf '%s\n' "$3" > "$1.ext"
  ssl x509 -req -in "$1.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -out "$1.crt" -extfile "$1.ext"
}
issue server "/CN=127.0.0.1" "subjectAltName=IP:127.0.0.1
extendedKeyUsage=serverAuth"
issue platform "/CN=platform" "extendedKeyUsage=clientAuth"
p12_password="$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')"
ssl pkcs12 -export -in platform.crt -inkey platform.key -name platform -out platform.p12 -passout "pass:$p12_password"
fingerprint="$(openssl x509 -in platform.crt -noout -fingerprint -sha256 | cut -d= -f2)"

# --- The broker's keys, tokens and webhook secret ------------------------
mkdir keys
"$yilian" keygen --dir keys broker > /dev/null
{
  echo "keys:"
  for a in "${agencies[@]}"; do
    name="${a/:/-}"
    echo "  - {identity: $name-adapter, role: \"agency:$a\", public: \"$("$yilian" keygen --dir keys "$name")\"}"
  done
} > keys/keys.yaml
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > keys/data.key
token="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
cat > tokens.yaml <<YAML
tokens:
  - identity: platform-token
    role: publisher
    token: "$token"
  - identity: platform-certificate
    role: publisher
    certificate_sha256: "$fingerprint"
YAML
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > webhook.secret

# --- The example's webhook receiver ---------------------------------------
"$run_sh" receive --listen 127.0.0.1:0 --port-file receiver.port --secret-file webhook.secret \
  --out updates.jsonl > receiver.log 2>&1 &
receiver=$!
listening_or_gone() { test -s receiver.port || ! kill -0 "$receiver" 2>/dev/null; }
wait_for 30 listening_or_gone && test -s receiver.port || fail "the webhook receiver did not start within 30 s"
receiver_port="$(cat receiver.port)"

# --- The broker, on free ports --------------------------------------------
cat > broker.yaml <<YAML
listen: "tcp://127.0.0.1:*"
http:
  listen: 127.0.0.1:0
  tls_cert_file: $work/server.crt
  tls_key_file: $work/server.key
  tls_client_ca_file: $work/ca.crt
security:
  server_key_file: $work/keys/broker.key
  keys_file: $work/keys/keys.yaml
  data_key_file: $work/keys/data.key
  tokens_file: $work/tokens.yaml
webhook:
  url: http://127.0.0.1:$receiver_port/yilian/updates
  secret_file: $work/webhook.secret
  initial_backoff_ms: 200
  max_backoff_ms: 2000
YAML
"$broker_bin" --config broker.yaml --data-dir "$work/data" --log-file "$work/broker.log" \
  > broker.out 2> broker.err &
broker=$!
pids+=("$broker")
broker_up() { grep -q "listening on tcp://" broker.log 2>/dev/null && grep -q "HTTP API and dashboard on https://" broker.log; }
up_or_gone() { broker_up || ! kill -0 "$broker" 2>/dev/null; }
wait_for 30 up_or_gone && broker_up || fail "the broker did not start within 30 s"
endpoint="$(grep -o 'listening on tcp://[0-9.:]*' broker.log | head -1 | cut -d' ' -f3)"
url="$(grep -o 'HTTP API and dashboard on https://[0-9.:]*' broker.log | head -1 | cut -d' ' -f6)"

# --- The demo's agencies, answering PROCESSED -----------------------------
for a in "${agencies[@]}"; do
  name="${a/:/-}"
  "$yilian" consume --broker "$endpoint" --server-key keys/broker.pub --key "keys/$name.key" --agency "$a" \
    --result processed --name "java-example-$name" --log "consume-$name.jsonl" > "consume-$name.out" 2>&1 &
  pids+=($!)
done

# --- Publish: with the client certificate, then again with the token too --
export YILIAN_CERT_PASSWORD="$p12_password"
"$run_sh" publish --url "$url" --ca ca.crt --cert platform.p12 --enterprises "$enterprises" --seed "$seed" \
  > publish-certificate.out 2> publish-certificate.err || fail "publishing with the client certificate failed"
(($(grep -c '^ACCEPTED ' publish-certificate.out) == enterprises)) ||
  fail "expected $enterprises ACCEPTED events, see publish-certificate.out"
YILIAN_TOKEN="$token" "$run_sh" publish --url "$url" --ca ca.crt --cert platform.p12 --enterprises "$enterprises" \
  --seed "$seed" > publish-token.out 2> publish-token.err || fail "publishing again with the token failed"
(($(grep -c '^DUPLICATE ' publish-token.out) == enterprises)) ||
  fail "expected $enterprises DUPLICATE events when publishing again, see publish-token.out"
# A healthy broker answers every post at the first attempt; HttpClient
# resumes TLS sessions, so a broker refusing resumptions shows up here.
grep -h '^attempt ' publish-certificate.err publish-token.err &&
  fail "a post had to be sent again: $(grep -h -m1 '^attempt ' publish-certificate.err publish-token.err)"

# --- Every case completes, and its signed update reaches the receiver -----
all_completed() {
  local n
  for ((n = 1; n <= enterprises; n++)); do
    grep -q "\"kind\":\"CASE_COMPLETED\",\"event_id\":\"java-$seed-$n\"" updates.jsonl 2>/dev/null || return 1
  done
}
wait_for 120 all_completed || fail "not every case's CASE_COMPLETED update reached the receiver within 120 s"
verified="$(grep -c '"signature":"verified"' updates.jsonl)"
((verified == $(wc -l < updates.jsonl))) || fail "updates.jsonl holds an update whose signature was not verified"
grep -q '^refused ' receiver.log && fail "the receiver refused a request of the broker: $(grep -m1 '^refused ' receiver.log)"

# --- Forged and stale requests are refused --------------------------------
body="{\"update_id\":\"999999\",\"kind\":\"CASE_COMPLETED\",\"case\":{\"event_id\":\"forged-1\"}}"
post() {  # post TIMESTAMP SIGNATURE: prints the HTTP status
  curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -H 'Yilian-Webhook-Id: 999999' \
    -H "Yilian-Webhook-Timestamp: $1" -H "Yilian-Webhook-Signature: $2" --data-binary "$body" \
    "http://127.0.0.1:$receiver_port/yilian/updates"
}
sign() { printf '%s.%s' "$1" "$body" | openssl dgst -sha256 -mac HMAC -macopt "key:$(cat webhook.secret)" -r | cut -d' ' -f1; }
now="$(date +%s)"
stale=$((now - 301))
[[ $(post "$now" "v1=$(printf '%064d' 0)") == 401 ]] || fail "a forged signature was not answered 401"
[[ $(post "$stale" "v1=$(sign "$stale")") == 401 ]] || fail "a timestamp older than 5 minutes was not answered 401"
[[ $(post "$now" "v1=$(sign "$now")") == 204 ]] || fail "a correctly signed request was not answered 204"
grep -q '"event_id":"forged-1"' updates.jsonl || fail "the correctly signed request was not recorded"
(($(grep -c '^refused ' receiver.log) == 2)) || fail "the receiver did not log the two refused requests"

echo "java_example_test: PASS: $enterprises events published over HTTPS (client certificate, then token:" \
  "DUPLICATE), $verified signed case updates received, forged and stale requests refused"
