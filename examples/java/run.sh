#!/usr/bin/env bash
# The Java example: a registration platform's side of the broker's HTTPS API,
# with the JDK only (17 or later). Builds the sources with javac (again only
# when they changed) and runs one of the programs.
#   examples/java/run.sh publish --url https://127.0.0.1:7780 --ca ca.crt --token-file publisher.token
#   examples/java/run.sh receive --listen 127.0.0.1:8090 --secret-file webhook.secret --out updates.jsonl
#   examples/java/run.sh check uscc 91350100M000100Y43   # or: check id 11010519491231002X
#   examples/java/run.sh build                            # only compile; prints the class directory
# Each program's --help lists its options. Credentials may come from the
# environment instead of arguments: YILIAN_URL, YILIAN_TOKEN (the token itself),
# YILIAN_CERT (client certificate, PKCS#12) and YILIAN_CERT_PASSWORD, YILIAN_CA
# (PEM CA of the broker's certificate), YILIAN_WEBHOOK_SECRET_FILE.
# YILIAN_JAVA_OUT sets the class directory (default: a directory under
# ${TMPDIR:-/tmp} of this user).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
out="${YILIAN_JAVA_OUT:-${TMPDIR:-/tmp}/yilian-java-example-$(id -u)}"

usage() { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; }

build() {
  if ! command -v javac >/dev/null; then
    echo "run.sh: javac not found: install a JDK 17 or later (Debian 12: apt-get install default-jdk-headless;" \
      "scripts/setup installs it)" >&2
    exit 1
  fi
  mkdir -p "$out"
  # Compiled again when a source is newer than the last build.
  if [[ -f $out/classes/.built ]] && [[ -z $(find "$here/src" -name '*.java' -newer "$out/classes/.built") ]]; then
    return
  fi
  local fresh="$out/classes.$$"
  rm -rf "$fresh"
  javac --release 17 -Xlint:all -encoding UTF-8 -d "$fresh" $(find "$here/src" -name '*.java' | sort)
  touch "$fresh/.built"
  rm -rf "$out/classes"
  mv "$fresh" "$out/classes"
}

run() {
  local class="$1"
  shift
  build
  exec java -Dfile.encoding=UTF-8 -Dstdout.encoding=UTF-8 -cp "$out/classes" "yilian.example.$class" "$@"
}

case "${1:-}" in
  publish) shift; run Publisher "$@" ;;
  receive) shift; run WebhookReceiver "$@" ;;
  check) shift; run CheckDigits "$@" ;;
  build) build; echo "$out/classes" ;;
  -h|--help) usage ;;
  "") usage >&2; exit 2 ;;
  *) echo "run.sh: unknown command '$1' (see --help)" >&2; exit 2 ;;
esac
