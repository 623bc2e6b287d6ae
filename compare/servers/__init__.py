"""What runs a stack: each stack as data (stacks), what each server honours (options), its
lifecycle (server), and the programs its command line starts: nginx's config (nginx), the front's
supervisor (proxy), a shared socket for servers without workers (prefork), the bash supervisor both
use (supervisor), and the run's PostgreSQL (postgres)."""
