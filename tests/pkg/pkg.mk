# tests/pkg/pkg.mk: the Debian packages (debian/): `make deb` builds them from a copy of the tree into $(PKG_OUT); `make pkg-check` (part of make check) checks them with lintian and end to end on the host; the systemd guest installs them (vm-test's pkg suite).
PKG_OUT := build/pkg

.PHONY: deb pkg-check
CHECK_TARGETS += pkg-check

# Always rebuilt (cheap: the release build and unit tests take well under a minute) so the packages
# are those of the tree as it is.
deb:
	tests/pkg/build.sh $(PKG_OUT) >/dev/null

pkg-check: deb
	tests/pkg/check.sh $(PKG_OUT)
