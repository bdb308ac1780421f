/* kiln console: the one place that includes curses, with wide characters on, so
 * every file sees the same declarations. */
#ifndef KILN_CONSOLE_CURSESW_H
#define KILN_CONSOLE_CURSESW_H

#ifndef NCURSES_WIDECHAR
#define NCURSES_WIDECHAR 1
#endif
#include <curses.h>

#endif
