#!/usr/bin/env bash
# Builds the Debian packages of ratelimitd from a CMake build (configured and built here if it is
# not yet): ratelimitd_VERSION_ARCH.deb (stripped binaries, the systemd unit, the config as a
# conffile, bash completion, man pages, maintainer scripts) and ratelimitd-dbgsym_VERSION_ARCH.deb
# (the debug info, found by build id under /usr/lib/debug/.build-id). Depends: comes from
# dpkg-shlibdeps.
#
#   scripts/package.sh [--build-dir DIR (build-deb)] [--out DIR (DIR of the build)]
#                      [--version VERSION (the CMake project version)]
#
# The config shipped in /etc/ratelimitd/ratelimitd.json names the interface "EDIT-ME": the
# package is installed disabled until it is edited (postinst enables and starts the service
# only when `ratelimitd --check` accepts the config on this host).
set -euo pipefail
cd "$(dirname "$0")/.."
src=$PWD

build=build-deb out="" version=""
while (($#)); do
    case $1 in
    --build-dir) build=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --version) version=$2; shift 2 ;;
    *) echo "usage: $0 [--build-dir DIR] [--out DIR] [--version VERSION]" >&2; exit 2 ;;
    esac
done
build=$(realpath -m "$build")
out=$(realpath -m "${out:-$build}")

launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
if [[ ! -f $build/CMakeCache.txt ]]; then
    cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=OFF "${launcher[@]}" >/dev/null
fi
cmake --build "$build" --parallel "$(nproc)" --target ratelimitd ratelimitctl man >/dev/null
if [[ -z $version ]]; then
    version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
fi
[[ $version =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] || { echo "package: bad version \"$version\"" >&2; exit 2; }
arch=$(dpkg --print-architecture)

work=$(mktemp -d /tmp/rl-package.XXXXXX)
trap 'rm -rf "$work"' EXIT
root=$work/src/debian/ratelimitd dbg=$work/src/debian/ratelimitd-dbgsym
DESTDIR=$root cmake --install "$build" --prefix /usr >/dev/null

# /usr/etc is no place for a config: the example goes to the docs, the conffile to /etc.
mkdir -p "$root/usr/share/doc/ratelimitd/examples" "$root/etc/ratelimitd"
mv "$root/usr/etc/ratelimitd/ratelimitd.json.example" "$root/usr/share/doc/ratelimitd/examples/ratelimitd.json"
rm -rf "$root/usr/etc"
install -m 0644 packaging/deb/ratelimitd.json "$root/etc/ratelimitd/ratelimitd.json"
install -m 0644 LICENSE "$root/usr/share/doc/ratelimitd/copyright"
gzip -9n "$root"/usr/share/man/man*/*

# Debug info: the installed binaries are stripped; the build tree's keep it, with the same
# build id.
build_ids=()
for binary in usr/sbin/ratelimitd usr/bin/ratelimitctl; do
    name=$(basename "$binary")
    unstripped=$(find "$build" -type f -name "$name" -perm -u+x -not -path '*/CMakeFiles/*' | head -n 1)
    id=$(readelf -n "$unstripped" | sed -n 's/.*Build ID: *\([0-9a-f]*\).*/\1/p')
    [[ $(readelf -n "$root/$binary" | sed -n 's/.*Build ID: *\([0-9a-f]*\).*/\1/p') == "$id" ]] ||
        { echo "package: $unstripped and the installed $binary differ" >&2; exit 1; }
    mkdir -p "$dbg/usr/lib/debug/.build-id/${id:0:2}"
    objcopy --only-keep-debug --compress-debug-sections "$unstripped" \
        "$dbg/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug"
    chmod 0644 "$dbg/usr/lib/debug/.build-id/${id:0:2}/${id:2}.debug"
    build_ids+=("$id")
done
mkdir -p "$dbg/usr/share/doc"
ln -s ratelimitd "$dbg/usr/share/doc/ratelimitd-dbgsym"

mkdir -p "$root/DEBIAN" "$dbg/DEBIAN"
# Depends from the shared libraries the binaries link (dpkg-shlibdeps reads debian/control).
mkdir -p "$work/src/debian"
printf 'Source: ratelimitd\n\nPackage: ratelimitd\nArchitecture: any\n' >"$work/src/debian/control"
shlibs=$(cd "$work/src" && dpkg-shlibdeps -O debian/ratelimitd/usr/sbin/ratelimitd debian/ratelimitd/usr/bin/ratelimitctl |
    sed -n 's/^shlibs:Depends=//p')

size() { du -sk --exclude=DEBIAN "$1" | cut -f1; }
cat >"$root/DEBIAN/control" <<CONTROL
Package: ratelimitd
Version: $version
Architecture: $arch
Maintainer: ratelimitd developers <ratelimitd@localhost>
Installed-Size: $(size "$root")
Depends: $shlibs, passwd, init-system-helpers
Recommends: bash-completion
Section: net
Priority: optional
Description: per-source rate limiting in XDP for edge hosts
 An XDP program limits the packets and bytes each source address (or /N block,
 or a whole rule) may send, before the kernel allocates an skb; ratelimitd keeps
 its rules equal to a JSON config plus runtime rules, reloads on SIGHUP and
 keeps protection across restarts and upgrades. ratelimitctl drives it.
CONTROL
cat >"$dbg/DEBIAN/control" <<CONTROL
Package: ratelimitd-dbgsym
Version: $version
Architecture: $arch
Maintainer: ratelimitd developers <ratelimitd@localhost>
Installed-Size: $(size "$dbg")
Depends: ratelimitd (= $version)
Section: debug
Priority: optional
Auto-Built-Package: debug-symbols
Build-Ids: ${build_ids[*]}
Description: debug symbols for ratelimitd
CONTROL
echo /etc/ratelimitd/ratelimitd.json >"$root/DEBIAN/conffiles"
install -m 0755 packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm "$root/DEBIAN/"

mkdir -p "$out"
for pkg in "$root" "$dbg"; do
    (cd "$pkg" && find . -type f -not -path './DEBIAN/*' -printf '%P\0' | sort -z |
        xargs -0 md5sum >DEBIAN/md5sums)
    deb=$out/$(basename "$pkg")_${version}_$arch.deb
    dpkg-deb --root-owner-group -Zxz --build "$pkg" "$deb" >/dev/null
    echo "$deb"
done
