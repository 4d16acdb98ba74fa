/* main.c - placeholder until the CLI lands (issue: foundation). */
#include <stdio.h>
int main(void)
{
    fputs("mkube: not built yet\n", stderr);
    return 1;
}
