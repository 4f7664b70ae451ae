#!/usr/bin/env bash
# The chaos run of `make check`: 60 seconds (CHAOS_SECONDS overrides), a
# fresh seed each run (printed; rerun with tests/chaos.sh SECONDS SEED).
exec "$(dirname "$0")/../chaos.sh" "${CHAOS_SECONDS:-60}" "${CHAOS_SEED:-$(date +%s)}"
