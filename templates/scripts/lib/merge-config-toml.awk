# Merges the sections pactus-secure manages into a node's config.toml, keeping every other
# line byte for byte (comments, order, blank lines).
#   awk -v managed="grpc jsonrpc http html" -f merge-config-toml.awk MANAGED_TOML CURRENT_TOML
# MANAGED_TOML holds the managed sections, each written whole (sub-tables included);
# CURRENT_TOML is the node's file (/dev/null for none). A managed section's lines, from its
# header to its last line before the next header (comments and blank lines just before
# that header belong to what follows), are replaced by its new text where the section
# first stood; sections the file lacks are appended. Forms the merge cannot handle safely
# stop it with exit status 3 and a message saying what to change in the file.
# POSIX awk only: mawk (Debian), gawk and busybox awk all run it.

function fail(message) {
  printf "config.toml line %d: %s\n", FNR, message > "/dev/stderr"
  failed = 1
  exit 3
}

# The table a header line names ("sync.firewall"), or "" if the line is no header.
function header_name(line,    name) {
  if (line !~ /^[ \t]*\[/) return ""
  name = line
  sub(/^[ \t]*\[\[?/, "", name)
  sub(/\]\]?[ \t]*(#.*)?$/, "", name)
  gsub(/[ \t]/, "", name)
  if (name !~ /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/) return ""
  return name
}

function root_of(name) {
  sub(/\..*/, "", name)
  return name
}

# [ minus ] outside strings and comments: a value that opens an array spans lines until 0.
function bracket_balance(line,    rest, opened, closed) {
  rest = line
  gsub(/"([^"\\]|\\.)*"/, "", rest)
  gsub(/'[^']*'/, "", rest)
  sub(/#.*/, "", rest)
  opened = gsub(/\[/, "", rest)
  closed = gsub(/\]/, "", rest)
  return opened - closed
}

# Prints text (whole lines) and remembers whether the output so far ends in a blank line.
function emit(text) {
  if (text == "") return
  printf "%s", text
  wrote_any = 1
  last_blank = (text ~ /(^|\n)[ \t]*\n$/)
}

BEGIN {
  count = split(managed, names, " ")
  for (i = 1; i <= count; i++) is_managed[names[i]] = 1
}

# First file: the managed sections' new text, split by their top-level name.
FNR == NR {
  name = header_name($0)
  if (name != "") {
    current_root = root_of(name)
    if (!(current_root in block)) order[++blocks] = current_root
  }
  if (current_root == "") {
    if ($0 !~ /^[ \t]*(#.*)?$/) fail("the managed text has a key outside any section")
    next
  }
  if ($0 ~ /^[ \t]*$/) {
    trailing_blank[current_root] = trailing_blank[current_root] $0 "\n"
    next
  }
  block[current_root] = block[current_root] trailing_blank[current_root] $0 "\n"
  trailing_blank[current_root] = ""
  next
}

# Second file: the node's config.toml.
{
  line = $0
  if (line ~ /'''|"""/) fail("a multi-line string: write that value on one line, then run again")
  if (depth > 0) {                      # inside a value that spans lines
    depth += bracket_balance(line)
    if (dropping == "") emit(line "\n")
    next
  }
  name = header_name(line)
  if (name == "" && line ~ /^[ \t]*\[/)
    fail("a table header with quoted or unusual names: write it as [name] or [name.sub] without quotes")
  if (name != "") {
    seen_header = 1
    if (name in seen) fail("[" name "] appears twice: merge the two into one section")
    seen[name] = 1
    root = root_of(name)
    if (root in is_managed) {
      if (line ~ /^[ \t]*\[\[/) fail("[[" name "]] makes " root " an array of tables, which Pactus does not read")
      if (dropping != root) emit(pending)   # lines between two tables of one section go with it
      pending = ""
      if (!(root in written)) {
        emit(block[root])
        written[root] = 1
      }
      dropping = root
      next
    }
    emit(pending)
    pending = ""
    dropping = ""
    emit(line "\n")
    next
  }
  if (dropping != "") {
    if (line ~ /^[ \t]*(#.*)?$/) {
      pending = pending line "\n"       # kept if the section ends here
    } else {
      pending = ""
      depth = bracket_balance(line)
    }
    next
  }
  if (!seen_header && line !~ /^[ \t]*(#.*)?$/) {
    key = line
    sub(/^[ \t]*/, "", key)
    sub(/[ \t]*[.=].*/, "", key)
    gsub(/["']/, "", key)
    if (key in is_managed)
      fail(key " is set at the top level (a dotted key or an inline table): write it as a [" key "] section")
  }
  depth = bracket_balance(line)
  emit(line "\n")
}

END {
  if (failed) exit 3
  emit(pending)
  for (i = 1; i <= blocks; i++) {
    root = order[i]
    if (root in written) continue
    if (wrote_any && !last_blank) emit("\n")
    emit(block[root])
  }
}
