{#-
    Days an incremental event-time mart must recompute besides the days touched by new
    events: a backfill range (vars backfill_from, backfill_to: `dwh backfill`, the Dagster
    `backfill` job) and the last `recompute_recent_days` days of the mart (the daily
    schedule). A query with one date column; no rows when none of the vars is set. Called
    only on incremental runs; `day_column` is the model's date column.
-#}
{% macro forced_days(day_column='day') -%}
    {%- set from_day = var('backfill_from', none) -%}
    {%- set to_day = var('backfill_to', none) -%}
    {%- set recent = var('recompute_recent_days', 0) | int -%}
    {%- for value in [from_day, to_day] if value is not none -%}
        {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value | string) -%}
            {{ exceptions.raise_compiler_error(
                "backfill_from / backfill_to must be YYYY-MM-DD, got " ~ value) }}
        {%- endif -%}
    {%- endfor -%}
    select null::date as forced_day where false
    {%- if from_day is not none and to_day is not none %}
    union all
    select generate_series('{{ from_day }}'::date, '{{ to_day }}'::date, interval '1 day')::date
    {%- endif %}
    {%- if recent > 0 %}
    union all
    select generate_series(newest.last_day - {{ recent - 1 }}, newest.last_day,
                           interval '1 day')::date
    from (select max({{ day_column }}) as last_day from {{ this }}) as newest
    where newest.last_day is not null
    {%- endif %}
{%- endmacro %}
