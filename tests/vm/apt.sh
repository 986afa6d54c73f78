# tests/vm/apt.sh: sourced by kernel.sh and kernel-build.sh: a private apt under $aptdir (own sources, lists, cache, dpkg status) that never touches the host's.
# shellcheck shell=bash
#
# Needs aptdir, log and die from the caller. Provides:
#   mirror_uri      the Debian mirror of the host's own apt sources (never written in the project)
#   apt_opts        the apt-get/apt-cache options that keep everything under $aptdir
#   apt_refresh FN  when the lists are older than a day (or VUP_APT_REFRESH=1): FN writes
#                   $aptdir/sources.list or sources.list.d/, then apt-get update
: "${aptdir:?apt.sh needs aptdir}"
KEYRING=/usr/share/keyrings/debian-archive-keyring.gpg
HOST_SOURCES=/etc/apt/sources.list.d/debian.sources

[ -r "$KEYRING" ] || die "$KEYRING missing (package debian-archive-keyring)"
mkdir -p "$aptdir/lists/partial" "$aptdir/cache/archives/partial" "$aptdir/sources.list.d" "$aptdir/preferences.d"

mirror_uri() {
	if [ -r "$HOST_SOURCES" ]; then
		awk '/^URIs:/ { uri = $2 } /^Suites:/ { if ($0 !~ /-security/ && uri != "") { print uri; exit } }' \
			"$HOST_SOURCES"
	elif [ -r /etc/apt/sources.list ]; then
		awk '$1 == "deb" && $0 !~ /-security/ { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z]+:\/\//) { print $i; exit } }' \
			/etc/apt/sources.list
	fi
}

apt_opts=(
	-o "Dir::Etc::SourceList=$aptdir/sources.list"
	-o "Dir::Etc::SourceParts=$aptdir/sources.list.d"
	-o "Dir::Etc::Preferences=$aptdir/preferences"
	-o "Dir::Etc::PreferencesParts=$aptdir/preferences.d"
	-o "Dir::State::Lists=$aptdir/lists"
	-o "Dir::State::status=$aptdir/status"
	-o "Dir::State::extended_states=$aptdir/extended_states"
	-o "Dir::Cache=$aptdir/cache"
	-o "Dir::Cache::pkgcache=pkgcache.bin"
	-o "Dir::Cache::srcpkgcache=srcpkgcache.bin"
	-o "Acquire::Check-Valid-Until=false"
	-o "APT::Sandbox::User=root"
	-o "APT::Architecture=amd64"
)

apt_refresh() {
	local stamp=$aptdir/lists/.refreshed
	if [ "${VUP_APT_REFRESH:-0}" != 1 ] && [ -e "$stamp" ] && [ -z "$(find "$stamp" -mmin +1440)" ]; then
		return 0
	fi
	"$1"
	: >"$aptdir/status"
	: >"$aptdir/preferences"
	log "refreshing the private package lists"
	if apt-get "${apt_opts[@]}" -qq update >&2; then
		touch "$stamp"
	elif [ -e "$stamp" ]; then
		# Offline with a cache: say so, and go on with the lists we have.
		log "WARNING: apt-get update failed; using the package lists of $(date -r "$stamp" '+%F %T')"
	else
		die "apt-get update (private lists in $aptdir) failed"
	fi
}
