# tests/layering/check-layers.awk - the rules of check-layers.sh, over
# tab-separated records on stdin:
#	L LINENO TEXT		a line of the layers file
#	G LINENO TEXT		a line of the long-files file
#	F PATH NLINES		a scanned file
#	I PATH LINENO NAME	an #include of NAME in PATH at LINENO
# Violations to stdout as PATH:LINE: REASON, the summary to stderr.
# Exit 0, 1 (violations) or 2 (a broken layers file, nothing to check).

function basename(p) { sub(/.*\//, "", p); return p }
function dirname(p) { if (p !~ /\//) return "."; sub(/\/[^\/]*$/, "", p); return p }

function violation(where, why) { nviol++; print where ": " why }

function config_error(why) {
	print "check-layers: " why > "/dev/stderr"
	exit_code = 2
	exit 2
}

# under(path, dir): path is dir or below it.
function under(p, d) { return p == d || index(p, d "/") == 1 }

# The scanned file an include NAME of FILE stands for; "" if none (a
# system header).  Sets AMBIGUOUS to the candidates when there are several.
function resolve(file, name,    b, n, i, cand, c, got, k) {
	AMBIGUOUS = ""
	b = basename(name)
	if (!(b in byname))
		return ""
	n = split(byname[b], cand, " ")
	got = ""; k = 0
	for (i = 1; i <= n; i++) {
		c = cand[i]
		if (c == name || substr(c, length(c) - length(name)) == "/" name) {
			k++
			got = got (got == "" ? "" : " ") c
		}
	}
	if (k == 0)
		return ""
	if (k == 1)
		return got
	# Quoted includes look in the includer's folder first.
	n = split(got, cand, " ")
	for (i = 1; i <= n; i++)
		if (dirname(cand[i]) == dirname(file))
			return cand[i]
	AMBIGUOUS = got
	return ""
}

function is_fuse(name,    b) {
	b = basename(name)
	return name ~ /^fuse3?\// || b ~ /^fuse(_[a-z]+)?\.h$/
}

# fuse_chain(h): "" if header h reaches no FUSE header, else the chain
# "h -> ... -> fuse_x.h" (names as included).  Memoized; a header being
# visited counts as reaching none (a cycle adds nothing).
function fuse_chain(h, shown,    i, r, c) {
	if (h in fmemo)
		return fmemo[h]
	fmemo[h] = ""
	for (i = 1; i <= ninc; i++) {
		if (isrc[i] != h)
			continue
		if (is_fuse(iname[i])) {
			fmemo[h] = shown " -> " iname[i]
			return fmemo[h]
		}
	}
	for (i = 1; i <= ninc; i++) {
		if (isrc[i] != h || (r = ires[i]) == "")
			continue
		c = fuse_chain(r, iname[i])
		if (c != "") {
			fmemo[h] = shown " -> " c
			return fmemo[h]
		}
	}
	return fmemo[h]
}

# Depth-first search of the folder graph for cycles.
function dfs(u, depth,    n, i, vs, v, j, cyc, key) {
	color[u] = 1
	stack[depth] = u
	n = split(adj[u], vs, " ")
	for (i = 1; i <= n; i++) {
		v = vs[i]
		if (color[v] == 1) {
			cyc = v
			for (j = depth; j >= 1 && stack[j] != v; j--)
				;
			cyc = ""
			for (; j <= depth; j++)
				cyc = cyc stack[j] " -> "
			cyc = cyc v
			key = cyc_key(cyc)
			if (!(key in cycseen)) {
				cycseen[key] = 1
				violation(edgeat[u SUBSEP v], "include cycle between folders: " cyc)
			}
		} else if (color[v] == 0) {
			dfs(v, depth + 1)
		}
	}
	color[u] = 2
}

# The same cycle found from another folder: the same sorted set.
function cyc_key(c,    n, a, i, j, t, k) {
	n = split(c, a, " -> ")
	n--	# the last repeats the first
	for (i = 1; i <= n; i++)
		for (j = i + 1; j <= n; j++)
			if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
	k = ""
	for (i = 1; i <= n; i++)
		k = k " " a[i]
	return k
}

$1 == "L" {
	text = $3
	sub(/#.*/, "", text)
	n = split(text, w, /[ \t]+/)
	# split with leading blanks gives an empty first field in some awks
	m = 0
	for (i = 1; i <= n; i++)
		if (w[i] != "")
			tok[++m] = w[i]
	if (m == 0)
		next
	if (tok[1] == "scan") {
		next
	} else if (tok[1] == "order") {
		ng = 1; groups[1] = ""
		for (i = 2; i <= m; i++) {
			if (tok[i] == "<") {
				if (groups[ng] == "")
					config_error(layers_name ":" $2 ": empty group in an order line")
				groups[++ng] = ""
				continue
			}
			groups[ng] = groups[ng] " " tok[i]
			if (!(tok[i] in known)) {
				known[tok[i]] = 1
				folders[++nfolders] = tok[i]
			}
		}
		if (groups[ng] == "" || ng < 2)
			config_error(layers_name ":" $2 ": an order line needs A < B")
		for (g = 1; g < ng; g++) {
			na = split(groups[g], ga, " ")
			nb = split(groups[g + 1], gb, " ")
			for (a = 1; a <= na; a++)
				for (b = 1; b <= nb; b++)
					lt[ga[a], gb[b]] = 1
		}
	} else if (tok[1] == "fuse-free") {
		for (i = 2; i <= m; i++)
			fusefree[++nfusefree] = tok[i]
	} else if (tok[1] == "max-lines") {
		if (tok[2] !~ /^[0-9]+$/)
			config_error(layers_name ":" $2 ": max-lines N DIR...")
		maxlines = tok[2] + 0
		for (i = 3; i <= m; i++)
			maxroot[++nmaxroot] = tok[i]
	} else {
		config_error(layers_name ":" $2 ": unknown directive " tok[1])
	}
	next
}

$1 == "G" {
	text = $3
	if (text ~ /^[ \t]*(#|$)/)
		next
	sub(/^[ \t]+/, "", text)
	p = text
	sub(/[ \t].*/, "", p)
	reason = substr(text, length(p) + 1)
	gsub(/^[ \t]+|[ \t]+$/, "", reason)
	longline[p] = $2
	longreason[p] = reason
	longs[++nlongs] = p
	next
}

$1 == "F" {
	nlines[$2] = $3 + 0
	files[++nfiles] = $2
	b = basename($2)
	byname[b] = (b in byname) ? byname[b] " " $2 : $2
	next
}

$1 == "I" {
	ninc++
	isrc[ninc] = $2
	iline[ninc] = $3
	iname[ninc] = $4
	next
}

END {
	if (exit_code)
		exit exit_code
	if (nfolders == 0)
		config_error(layers_name ": no order line")
	if (nfiles == 0)
		config_error("no file to check")

	# The order, closed transitively; it must have no cycle.
	for (k = 1; k <= nfolders; k++)
		for (i = 1; i <= nfolders; i++)
			if ((folders[i], folders[k]) in lt)
				for (j = 1; j <= nfolders; j++)
					if ((folders[k], folders[j]) in lt)
						lt[folders[i], folders[j]] = 1
	for (i = 1; i <= nfolders; i++)
		if ((folders[i], folders[i]) in lt)
			config_error(layers_name ": the order has a cycle through " folders[i])

	# Every folder with files is in the order.
	for (i = 1; i <= nfiles; i++) {
		d = dirname(files[i])
		if (!(d in known) && !(d in unknown_seen)) {
			unknown_seen[d] = 1
			violation(files[i] ":1", "folder " d " is not in " layers_name \
			    " (add it to an order line)")
		}
	}

	# Includes between folders.
	nproject = 0
	for (i = 1; i <= ninc; i++) {
		ires[i] = resolve(isrc[i], iname[i])
		where = isrc[i] ":" iline[i]
		if (AMBIGUOUS != "") {
			violation(where, iname[i] " is ambiguous: " AMBIGUOUS \
			    " (header names must be unique)")
			continue
		}
		if (ires[i] == "")
			continue
		nproject++
		a = dirname(isrc[i])
		b = dirname(ires[i])
		if (a == b)
			continue
		ncross++
		if (!((a, b) in edge)) {
			edge[a, b] = 1
			nedges++
			edgeat[a, b] = where
			adj[a] = adj[a] " " b
			if (!(a in isnode)) { isnode[a] = 1; nodes[++nnodes] = a }
			if (!(b in isnode)) { isnode[b] = 1; nodes[++nnodes] = b }
		}
		if (!(a in known) || !(b in known))
			continue	# reported above
		if ((b, a) in lt)
			continue
		if ((a, b) in lt)
			violation(where, "includes " ires[i] ": " b " is above " a)
		else
			violation(where, "includes " ires[i] ": " b " is not below " a \
			    " (unordered in " layers_name ")")
	}
	if (nproject == 0)
		config_error("no project include resolved: nothing was checked")
	for (i = 1; i <= nnodes; i++)
		if (color[nodes[i]] == 0)
			dfs(nodes[i], 1)

	# FUSE-free folders.
	for (i = 1; i <= ninc; i++) {
		free_ = ""
		for (k = 1; k <= nfusefree; k++)
			if (under(isrc[i], fusefree[k]))
				free_ = fusefree[k]
		if (free_ == "")
			continue
		where = isrc[i] ":" iline[i]
		if (is_fuse(iname[i])) {
			violation(where, "includes FUSE header " iname[i] " (" free_ " is fuse-free)")
		} else if (ires[i] != "" && (c = fuse_chain(ires[i], iname[i])) != "") {
			fuse_hdr = c
			sub(/.* -> /, "", fuse_hdr)
			violation(where, "includes " iname[i] ", which reaches FUSE header " \
			    fuse_hdr " (" c "; " free_ " is fuse-free)")
		}
	}

	# Long files.
	for (i = 1; i <= nfiles; i++) {
		f = files[i]
		inroot = 0
		for (k = 1; k <= nmaxroot; k++)
			if (under(f, maxroot[k]))
				inroot = 1
		if (!inroot || nlines[f] <= maxlines || (f in longline))
			continue
		violation(f ":" (maxlines + 1), nlines[f] " lines, over " maxlines \
		    ": split it, or list it in " long_name " with a reason")
	}
	for (i = 1; i <= nlongs; i++) {
		p = longs[i]
		where = long_name ":" longline[p]
		if (!(p in nlines))
			violation(where, p ": no such file (remove the entry)")
		else if (nlines[p] <= maxlines)
			violation(where, p " has " nlines[p] " lines, not over " maxlines \
			    " (remove the entry)")
		else if (longreason[p] == "")
			violation(where, p ": no reason given")
	}

	if (nviol) {
		printf "check-layers: %d violation(s) in %d files\n", nviol, nfiles > "/dev/stderr"
		exit 1
	}
	printf "check-layers: OK: %d files, %d project includes (%d between folders, %d folder edges), %d folders ordered\n", \
	    nfiles, nproject, ncross, nedges, nfolders > "/dev/stderr"
	exit 0
}
