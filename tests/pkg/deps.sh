#!/usr/bin/env bash
# tests/pkg/deps.sh: what building the Debian packages and checking them needs (debhelper, its DKMS add-on, lintian).
exec "$(dirname "$0")/../../scripts/deps.sh" debhelper dh-dkms bash-completion lintian fakeroot dpkg-dev cpio git
