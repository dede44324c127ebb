#!/usr/bin/env bash
# Regenerates the checked-in seed corpora in corpus/<target>/ from the text
# sources in seeds/ (Protobuf text format, encoded with protoc) and from
# tests/data/valid_events.jsonl. Run after a schema change; commit the result.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
schemas="$root/schemas"
corpus="$here/corpus"
rm -rf "$corpus"
mkdir -p "$corpus"/{fuzz_envelope,fuzz_validate,fuzz_json,fuzz_cipher}

encode() {  # encode TYPE < text > binary
  protoc -I"$schemas" --encode="yilian.v1.$1" "$schemas/yilian/v1/protocol.proto"
}

n=0
for f in "$here"/seeds/event/*.txtpb; do
  name="$(basename "$f" .txtpb)"
  encode EnterpriseEvent <"$f" >"$corpus/fuzz_validate/$name"
  cp "$corpus/fuzz_validate/$name" "$corpus/fuzz_cipher/$name"
  n=$((n + 1))
  { echo "publish { correlation_id: $n event {"; grep -v '^#' "$f"; echo "} }"; } |
    encode Envelope >"$corpus/fuzz_envelope/publish_$name"
done
for f in "$here"/seeds/envelope/*.txtpb; do
  encode Envelope <"$f" >"$corpus/fuzz_envelope/$(basename "$f" .txtpb)"
done
# A Publish whose event is not valid UTF-8: the broker's EnvelopeRaw path.
echo 'publish { correlation_id: 99 event: "\n\003\377\376\375\020\001" }' |
  encode EnvelopeRaw >"$corpus/fuzz_envelope/publish_undecodable"

# Values that look encrypted but are not: the cipher's refusal paths.
cat <<'TXT' | encode EnterpriseEvent >"$corpus/fuzz_cipher/fake_ciphertext"
event_id: "c-1"
enterprise {
  legal_representative { name: "张三" id_number: "sm4:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" phone: "sm4:!!" }
  contact { phone: "sm4:" }
}
changes { field: "contact" old_value: "sm4:Zm9v" new_value: "plain" }
TXT

i=0
while IFS= read -r line; do
  i=$((i + 1))
  printf '%s' "$line" >"$corpus/fuzz_json/valid_$i.json"
done <"$root/tests/data/valid_events.jsonl"
for f in "$here"/seeds/json/*.json; do
  cp "$f" "$corpus/fuzz_json/$(basename "$f")"
done
for d in "$corpus"/*; do echo "$(basename "$d"): $(ls "$d" | wc -l) seeds"; done
