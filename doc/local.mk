dist_man_MANS += doc/kiln.1 doc/kilnd.1 doc/kiln.conf.5
EXTRA_DIST += doc/kilnd-api.md doc/design.md
