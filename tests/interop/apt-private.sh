# tests/interop/apt-private.sh: sourced helpers for a private apt (own sources, lists, cache, empty dpkg status) that never touches the host's apt state.
# shellcheck shell=bash
#
# debian_mirror            prints the Debian mirror of the host's apt sources (VUP_DEBIAN_MIRROR overrides)
# apt_private DIR SUITES   sets up DIR as a private apt for those suites of that mirror (main) and exports
#                          APT_CONFIG; then apt-get/apt-cache act on DIR only (run apt-get update first).
#                          SUITES "host" copies the host's own sources (its suites, security included).

debian_mirror() {
	local f uri
	if [ -n "${VUP_DEBIAN_MIRROR:-}" ]; then
		echo "${VUP_DEBIAN_MIRROR%/}"
		return
	fi
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		# deb822: the first URI of a "deb" stanza with a suite other than -security/-updates/-backports
		uri=$(awk 'BEGIN { RS = ""; FS = "\n" }
			{ u = ""; ok = 0; deb = 0
			  for (i = 1; i <= NF; i++) {
				if ($i ~ /^URIs:/) { split($i, a, /[ \t]+/); u = a[2] }
				if ($i ~ /^Types:/ && $i ~ /[ \t]deb([ \t]|$)/) deb = 1
				if ($i ~ /^Suites:/) { n = split($i, s, /[ \t]+/)
					for (j = 2; j <= n; j++) if (s[j] != "" && s[j] !~ /-(security|updates|backports)$/) ok = 1 }
			  }
			  if (u != "" && ok && deb) { print u; exit } }' "$f")
		if [ -n "$uri" ]; then
			echo "${uri%/}"
			return
		fi
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		uri=$(awk '$1 == "deb" { for (i = 2; i <= NF; i++) if ($i ~ /^[a-z+]+:\/\//) break
			if (i < NF && $(i + 1) !~ /-(security|updates|backports)$/) { print $i; exit } }' "$f")
		if [ -n "$uri" ]; then
			echo "${uri%/}"
			return
		fi
	done
	echo "no Debian mirror in the host's apt sources; set VUP_DEBIAN_MIRROR" >&2
	return 1
}

apt_private() {
	local dir=$1 suites=$2 mirror f
	mkdir -p "$dir/lists/partial" "$dir/archives/partial" "$dir/etc/sources.list.d" "$dir/etc/apt.conf.d" \
		"$dir/etc/preferences.d" "$dir/cache"
	[ -e "$dir/status" ] || : >"$dir/status"
	if [ "$suites" = host ]; then
		for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
			[ -r "$f" ] && cp "$f" "$dir/etc/sources.list.d/host-$(basename "$f" | sed 's/^sources\.list$/main.list/')"
		done
	else
		mirror=$(debian_mirror) || return 1
		cat >"$dir/etc/sources.list.d/private.sources" <<SRC
Types: deb
URIs: $mirror
Suites: $suites
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	fi
	cat >"$dir/apt.conf" <<CONF
Dir::Etc "$dir/etc";
Dir::Etc::SourceList "/dev/null";
Dir::Etc::SourceParts "$dir/etc/sources.list.d";
Dir::Etc::Parts "$dir/etc/apt.conf.d";
Dir::Etc::PreferencesParts "$dir/etc/preferences.d";
Dir::State "$dir";
Dir::State::Lists "$dir/lists";
Dir::State::status "$dir/status";
Dir::Cache "$dir/cache";
Dir::Cache::archives "$dir/archives";
APT::Architecture "amd64";
APT::Architectures { "amd64"; };
APT::Install-Recommends "false";
Acquire::Languages "none";
Acquire::Check-Valid-Until "false";
APT::Sandbox::User "root";
CONF
	export APT_CONFIG=$dir/apt.conf
}
