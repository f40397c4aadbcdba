#!/bin/bash
# A short kill loop (10 SIGKILLs during concurrent pushes) for the normal
# suite; `make stress` runs the long one. See tests/stress/kill_loop.sh.
KILLS=${KILLS:-10} exec bash "$(dirname "$0")/../stress/kill_loop.sh" "$1"
