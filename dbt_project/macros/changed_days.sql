{#-
    Days an incremental mart recomputes when silver entities can move between days (a bet
    resettled later, a payment whose first event arrives late with an earlier time): every
    changed row above the batch watermark may have been counted on any day of
    [first_day, last_day].

    changed_days: those days.
    recomputed_days: those days and the forced ones (a backfill range, the daily sweep:
    macros/forced_days.sql), for the model's touched-days CTE: what the model recomputes.
    delete_changed_days: a pre-hook that deletes the recomputed days first, so a day left
    without rows keeps no stale ones; delete+insert alone replaces only days it writes. The
    same macro as the model's CTE, so the hook deletes what the model recomputes. The days it
    deletes are recorded for publication (macros/candidate_changes.sql).
-#}

{% macro changed_days(relation, first_day, last_day) -%}
    select generate_series({{ first_day }}, {{ last_day }}, interval '1 day')::date as day
    from {{ relation }}
    where batch_id > {{ batch_watermark() }}
{%- endmacro %}

{% macro recomputed_days(relation, first_day, last_day, day_column='day') -%}
    {{ changed_days(relation, first_day, last_day) }}
    union
    select forced_day from ({{ forced_days(day_column) }}) as forced
{%- endmacro %}

{% macro delete_changed_days(relation, first_day, last_day, day_column='day') -%}
    {%- if is_incremental() %}
    with gone as (
        delete from {{ this }} where {{ day_column }} in (
            {{ recomputed_days(relation, first_day, last_day, day_column) }}
        )
        returning {{ day_column }} as day
    )

    insert into audit.candidate_changes (mart, day_column, day)
    select distinct '{{ this.identifier }}', '{{ day_column }}', day from gone
    {%- endif %}
{%- endmacro %}
