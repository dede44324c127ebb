# shellcheck shell=bash disable=SC2154  # work, root, fail and wait_for: the caller's
# The platform's side over HTTPS, for scripts/demo --http: certificates made
# with openssl, the tokens file, the webhook receiver
# (examples/python/webhook_receiver.py) and publishing with curl
# (docs/http-api.md, sections 4.1 and 4.2).
#
# Sourced, not run. The caller defines `fail MESSAGE` (reports and exits) and
# `wait_for SECONDS CMD...` (scripts/lib/postgres.sh), and sets `root` (the
# repository) and `work` (a new folder of its own). Then:
#
#   https_certificates DIR    in DIR (mode 0700): a throwaway CA (ca.crt), the
#                             broker's certificate for 127.0.0.1 and localhost
#                             (broker.crt, broker.key) and the platform's client
#                             certificate (platform.crt, platform.key; for a browser
#                             platform.p12, password "demo"); sets platform_sha256,
#                             its SHA-256 fingerprint
#   https_tokens FILE         a tokens file (mode 0600) with two publisher
#                             credentials: a bearer token (identity platform-token;
#                             $work/publisher.header holds its Authorization header,
#                             for curl -H @FILE, kept off command lines) and the
#                             client certificate (identity platform, by
#                             platform_sha256)
#   webhook_start             a secret ($work/webhook.secret) and the receiver on a
#                             free port, appending updates to $work/case-updates.jsonl
#                             (log $work/webhook.log); sets webhook_url, webhook_pid
#   webhook_forged            posts an update with a wrong signature; succeeds when
#                             the receiver answers 401
#   https_post URL TYPE FILE NAME [CURL_ARGS...]
#                             POSTs FILE to URL/api/v1/events as TYPE (application/json
#                             or application/x-ndjson), again after 503, 504, 429 or a
#                             lost connection (safe: events are stored once by event
#                             id); keeps the answer in $work/answer-NAME.json, fails unless
#                             every event is ACCEPTED or DUPLICATE

https_certificates() {
  local dir="$1" ssl_log="$1/openssl.log"
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  mkdir -p "$dir" && chmod 700 "$dir"
  ssl() { openssl "$@" >> "$ssl_log" 2>&1 || fail "openssl $1 failed (see $ssl_log)"; }
  ssl req -x509 "${ec[@]}" -keyout "$dir/ca.key" -out "$dir/ca.crt" -days 30 -subj "/CN=yilian demo CA" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign"
  issue() {  # issue NAME SUBJECT EXTENSIONS
    ssl req "${ec[@]}" -keyout "$dir/$1.key" -out "$dir/$1.csr" -subj "$2"
    printf '%s\n' "$3" > "$dir/$1.ext"
    ssl x509 -req -in "$dir/$1.csr" -CA "$dir/ca.crt" -CAkey "$dir/ca.key" -CAcreateserial -days 30 \
      -out "$dir/$1.crt" -extfile "$dir/$1.ext"
  }
  issue broker "/CN=127.0.0.1" "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth"
  issue platform "/CN=platform" "extendedKeyUsage=clientAuth"
  ssl pkcs12 -export -in "$dir/platform.crt" -inkey "$dir/platform.key" -name platform -out "$dir/platform.p12" \
    -passout pass:demo
  chmod 600 "$dir"/*.key "$dir/platform.p12"
  platform_sha256="$(openssl x509 -in "$dir/platform.crt" -noout -fingerprint -sha256 | cut -d= -f2)"
}

https_tokens() {
  local file="$1" token
  token="$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')"
  (
    umask 077
    cat > "$file" <<YAML
tokens:
  - identity: platform-token
    role: publisher
    token: "$token"
  - identity: platform
    role: publisher
    certificate_sha256: "$platform_sha256"
YAML
    echo "Authorization: Bearer $token" > "$work/publisher.header"
  )
}

webhook_start() {
  (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$work/webhook.secret")
  python3 "$root/examples/python/webhook_receiver.py" --secret-file "$work/webhook.secret" \
    --listen 127.0.0.1:0 --port-file "$work/webhook.port" --out "$work/case-updates.jsonl" \
    > "$work/webhook.log" 2>&1 &
  webhook_pid=$!
  wait_for 30 webhook_listening_or_gone || true
  [[ -s $work/webhook.port ]] || fail "the webhook receiver did not start"
  webhook_url="http://127.0.0.1:$(cat "$work/webhook.port")/yilian/updates"
}

webhook_listening_or_gone() { [[ -s $work/webhook.port ]] || ! kill -0 "$webhook_pid" 2>/dev/null; }

webhook_forged() {
  local body='{"update_id":"0","kind":"CASE_COMPLETED","case":{"event_id":"forged"}}'
  [[ $(curl -s -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' -H 'Yilian-Webhook-Id: 0' \
         -H "Yilian-Webhook-Timestamp: $(date +%s)" -H "Yilian-Webhook-Signature: v1=$(printf '%064d' 0)" \
         --data-binary "$body" "$webhook_url") == 401 ]]
}

https_post() {
  local url="$1" type="$2" file="$3" name="$4" status="" attempt
  shift 4
  for attempt in $(seq 10); do
    status="$(curl -sS -o "$work/answer-$name.json" -w '%{http_code}' -H "Content-Type: $type" \
                --data-binary "@$file" "$@" "$url/api/v1/events" 2>> "$work/publish.err")" || status=000
    case "$status" in
      200) break ;;
      000|429|503|504) sleep 1 ;;  # not stored, or not known to be: the same body again
      *) fail "POST $name: HTTP $status $(head -c 300 "$work/answer-$name.json")" ;;
    esac
  done
  [[ $status == 200 ]] || fail "POST $name: HTTP $status after $attempt attempts"
  # A single event is answered by its PublishAck, a batch by {"results": [PublishAck, ...]}.
  python3 - "$work/answer-$name.json" >> "$work/publish.out" <<'PY' || fail "POST $name: an event was refused"
import json, sys
answer = json.load(open(sys.argv[1]))
ok = True
for ack in answer.get("results", [answer]):
    print(ack["status"], ack["event_id"], "sequence", ack["sequence"])
    ok = ok and ack["status"] in ("ACCEPTED", "DUPLICATE")
sys.exit(0 if ok else 1)
PY
}
