#!/bin/bash
# The layering check, run by `make test` (ctest: check_layers). Fails, naming each offending line,
# when
#   - a file outside src/app/, apps/ and tests includes an adapter header (store/sqlite/,
#     store/postgresql/, artifacts/local/, artifacts/s3/, logs/local/, logs/cloudwatch/,
#     notify/smtp/): only the composition root names backends. An adapter's own folder may
#     include its own headers, and tests (*_test.cc
#     anywhere, and everything under tests/) may include any adapter;
#   - a file of src/domain/ other than a test includes anything but domain/, core/ and the
#     standard library (<...> headers without a folder that names a library, e.g. <vector>).
# Usage: tools/check_layers.sh [ROOT] (default: the repository this script is in).
set -euo pipefail
root=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$root"

# Includes that are known to break the rule, as 'FILE:LINE', each with the issue that removes it.
# None today.
known_exceptions=()

adapters='store/sqlite|store/postgresql|artifacts/local|artifacts/s3|logs/local|logs/cloudwatch|notify/smtp'
failures=0

is_known() {
  local entry
  for entry in "${known_exceptions[@]}"; do
    [[ "$1" == "$entry" ]] && return 0
  done
  return 1
}

while IFS= read -r file; do
  case "$file" in
    src/app/* | apps/* | tests/* | *_test.cc) continue ;;
  esac
  while IFS= read -r line; do
    header=$(sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"([^"]+)".*/\1/' <<<"$line")
    # An adapter's own files may include their own folder's headers.
    own=$(grep -oE "^src/($adapters)/" <<<"$file" | sed 's#^src/##' || true)
    if [[ -n "$own" && "$header" == "$own"* ]]; then continue; fi
    if is_known "$file:$line"; then continue; fi
    echo "check_layers: $file includes adapter header $header (only src/app/, apps/ and tests may)"
    failures=$((failures + 1))
  done < <(grep -E "^[[:space:]]*#[[:space:]]*include[[:space:]]*\"($adapters)/" "$file" || true)
done < <(find src apps -type f \( -name '*.h' -o -name '*.cc' \) | sort)

# The standard library headers domain/ may use; anything else in <...> is a third-party library.
std_headers='algorithm|any|array|atomic|bit|bitset|cassert|cctype|cerrno|charconv|chrono|cinttypes|climits|cmath|compare|concepts|condition_variable|cstddef|cstdint|cstdio|cstdlib|cstring|ctime|deque|exception|filesystem|fstream|functional|initializer_list|iomanip|ios|iosfwd|iostream|istream|iterator|limits|list|map|memory|mutex|new|numbers|numeric|optional|ostream|queue|random|ranges|ratio|regex|set|shared_mutex|span|sstream|stack|stdexcept|string|string_view|system_error|thread|tuple|type_traits|typeinfo|unordered_map|unordered_set|utility|variant|vector'
while IFS= read -r file; do
  case "$file" in *_test.cc) continue ;; esac
  while IFS= read -r line; do
    if [[ "$line" =~ \#[[:space:]]*include[[:space:]]*\"(domain|core)/ ]]; then continue; fi
    if [[ "$line" =~ \#[[:space:]]*include[[:space:]]*\<($std_headers)\> ]]; then continue; fi
    echo "check_layers: $file: domain/ may include only domain/, core/ and the standard library: $line"
    failures=$((failures + 1))
  done < <(grep -E '^[[:space:]]*#[[:space:]]*include' "$file" || true)
done < <(find src/domain -type f \( -name '*.h' -o -name '*.cc' \) | sort)

if ((failures > 0)); then
  echo "check_layers: $failures violation(s)"
  exit 1
fi
echo "check_layers: ok"
