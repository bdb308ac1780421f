dist_man_MANS += doc/kiln.1 doc/kiln.conf.5
