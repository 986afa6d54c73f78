#!/usr/bin/env bash
# tests/pkg/deps.sh: what building the Debian packages and checking them needs (debhelper, DKMS's debhelper add-on, lintian).
exec "$(dirname "$0")/../../scripts/deps.sh" debhelper dh-dkms dkms bash-completion lintian fakeroot dpkg-dev
