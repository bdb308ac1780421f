/* kiln console: the terminal's description, kept at start to be freed at exit (delscreen
 * leaves it allocated and forgets it). Apart from the rest because <term.h> defines a
 * macro for every terminfo capability (lines, columns, bell...). */
#include "console/cursesw.h"
#include "console/ui.h"

#include <term.h>

void *ui_terminfo_current(void)
{
    return cur_term;
}

void ui_terminfo_free(void *terminal)
{
    if (terminal == NULL)
        return;
    if (cur_term == terminal)
        set_curterm(NULL);
    del_curterm(terminal);
}
