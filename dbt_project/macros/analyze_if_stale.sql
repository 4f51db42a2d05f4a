{#- Post-hook of every silver and gold model: fresh statistics before the next model plans a
    join on this table (without them PostgreSQL guesses tiny tables and picks nested loops).

    A table just built has none and is analyzed. An incremental run changes a small share of
    its table, and ANALYZE samples the whole of it again (0.2 to 0.4 s per large table, tens of
    tables per run): it is analyzed only once the rows changed since its last analysis reach
    10% of it (changes of the running transaction are not counted yet; the next run sees them). -#}
{% macro analyze_if_stale() %}
    do $$
    begin
        if coalesce((
            select stats.last_analyze is null and stats.last_autoanalyze is null
                or stats.n_mod_since_analyze > 0.1 * greatest(stats.n_live_tup, 1)
            from pg_stat_user_tables as stats
            where stats.relid = '{{ this }}'::regclass
        ), true) then
            execute 'analyze {{ this }}';
        end if;
    end
    $$
{% endmacro %}
