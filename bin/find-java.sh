# Sourced by the launchers in bin/. Sets JAVA (a java 21+ binary) and JAVA_MAJOR, or exits 1.
# Looks at $JAVA_HOME, then `java` on PATH, then the usual install folders; says which it took.

java_major() { # java_major /path/to/java -> 17, 21, 25, ... (empty if it does not run)
  "$1" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = \([0-9.]*\).*/\1/p' | sed 's/^1\.//' | cut -d. -f1
}

find_java() {
  local candidates=() c v seen=""
  [ -n "${JAVA_HOME:-}" ] && candidates+=("$JAVA_HOME/bin/java")
  command -v java >/dev/null 2>&1 && candidates+=("$(command -v java)")
  for c in /usr/lib/jvm/*/bin/java /opt/java/*/bin/java /opt/*jdk*/bin/java /usr/local/*jdk*/bin/java \
           "$HOME"/.sdkman/candidates/java/*/bin/java /Library/Java/JavaVirtualMachines/*/Contents/Home/bin/java; do
    [ -x "$c" ] && candidates+=("$c")
  done
  for c in "${candidates[@]}"; do
    v=$(java_major "$c")
    if [ -n "$v" ] && [ "$v" -ge 21 ]; then
      JAVA="$c"; JAVA_MAJOR="$v"
      [ -n "${HERALD_QUIET_JAVA:-}" ] || echo "herald: using Java $v at $c" >&2
      return 0
    fi
    [ -n "$v" ] && seen="$seen $c (Java $v)"
  done
  echo "herald: no Java 21 or newer found (looked at JAVA_HOME, PATH and /usr/lib/jvm, /opt/java, ~/.sdkman, /Library/Java).${seen:+ Too old:$seen.} Install a JDK 21+ or set JAVA_HOME." >&2
  exit 1
}

# JVM flags for Netty and protobuf on recent JDKs (native access; sun.misc.Unsafe memory access from 23 on)
jvm_flags() {
  local flags="--enable-native-access=ALL-UNNAMED"
  [ "$JAVA_MAJOR" -ge 23 ] && flags="$flags --sun-misc-unsafe-memory-access=allow"
  echo "$flags"
}
