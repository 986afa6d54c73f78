#!/usr/bin/env bash
# tests/doc/deps.sh: installs the Debian 12 host packages the documentation check needs (groff to render the manual pages with warnings on, man-db for man --warnings and lexgrog), only those missing.
set -euo pipefail
exec "$(dirname "$0")/../../scripts/deps.sh" groff man-db
