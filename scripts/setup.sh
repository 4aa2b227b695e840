# scripts/setup.sh — sourced by scripts/check, scripts/demo and scripts/bench:
# install the Debian packages that are missing (as root; a second run
# installs nothing) and build out of tree.
#
#   igkit_packages            install what is missing, or say what to install and return 69
#   igkit_build DIR [ARGS]    autoreconf if needed, configure DIR with ARGS, make; 0 or 1

IGKIT_PACKAGES="build-essential autoconf automake pkg-config libsqlite3-dev libjansson-dev
  libssl-dev libcurl4-openssl-dev sqlite3 python3 curl jq openssl lighttpd mandoc valgrind
  libstemmer-dev"

igkit_packages() {
	local p missing=""
	for p in $IGKIT_PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
			missing="$missing $p"
	done
	if [ -z "$missing" ]; then
		return 0
	fi
	if [ "$(id -u)" -ne 0 ]; then
		echo "igkit: missing Debian packages:$missing" >&2
		echo "igkit: run as root, or: sudo apt-get install$missing" >&2
		return 69
	fi
	echo "==> installing:$missing" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null || { echo "igkit: apt-get update failed" >&2; return 69; }
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null ||
		{ echo "igkit: apt-get install failed:$missing" >&2; return 69; }
}

igkit_build() { # dir configure-args...
	local dir=$1 top src intree=0
	shift
	top=$(pwd)
	src=$top
	if [ ! -x configure ] || [ configure.ac -nt configure ] || [ Makefile.am -nt Makefile.in ]; then
		autoreconf -fi >/dev/null 2>&1 || { autoreconf -fi; echo "igkit: autoreconf failed" >&2; return 1; }
	fi
	# The source tree was configured in place (./configure && make, as the
	# README's build line does): configure refuses an out-of-tree build then
	# ("source directory already configured").  The default build uses the
	# in-place one (DIR becomes a link to it); a build with other options is
	# configured from a clean copy of the sources (make distdir).
	if [ -f config.status ] && [ "$dir" != . ]; then
		if [ $# -eq 0 ]; then
			[ -L "$dir" ] || rm -rf "$dir"
			ln -sfn . "$dir"
			intree=1   # configured already, with the user's options; make reconfigures
		else
			rm -rf "$dir.src"
			make -s distdir distdir="$dir.src" >"$dir.distdir.log" 2>&1 ||
				{ cat "$dir.distdir.log" >&2; echo "igkit: make distdir failed for $dir" >&2; return 1; }
			src=$top/$dir.src
			[ -f "$dir/Makefile" ] && ! grep -q "^srcdir = $src\$" "$dir/Makefile" && rm -rf "$dir"
		fi
	fi
	mkdir -p "$dir"
	if [ "$intree" = 0 ] && { [ ! -f "$dir/Makefile" ] || [ configure -nt "$dir/Makefile" ]; }; then
		( cd "$dir" && "$src/configure" -q "$@" ) >"$dir.configure.log" 2>&1 ||
			{ cat "$dir.configure.log" >&2; echo "igkit: configure failed in $dir" >&2; return 1; }
	fi
	make -C "$dir" -j"$(nproc 2>/dev/null || echo 2)" >"$dir.make.log" 2>&1 ||
		{ tail -40 "$dir.make.log" >&2; echo "igkit: build failed in $dir" >&2; return 1; }
	if grep -E 'warning:' "$dir.make.log" >&2; then
		echo "igkit: the build has warnings (see above)" >&2
		return 1
	fi
}
