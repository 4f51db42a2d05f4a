{#-
    Cohorts of docs/metrics.md ("Players"), defined once for fct_retention and fct_ltv.

    cohort_members: one row per (cohort_type, brand_id, player_id); `registration` cohorts by
    the UTC day of the player's first player.registered, `first_deposit` cohorts by the day of
    the first payment.captured (both from int_players).
    cohort_sizes: players per (cohort_type, cohort_date, brand_id).
    mature_offsets: each cohort with every day_offset 0..max_offset for which
    cohort_date + day_offset is not after the last day with data.
-#}

{% macro cohort_members(players) -%}
    select 'registration' as cohort_type, registration_date as cohort_date, brand_id, player_id
    from {{ players }}
    where registration_date is not null

    union all

    select 'first_deposit', first_deposit_date, brand_id, player_id
    from {{ players }}
    where first_deposit_date is not null
{%- endmacro %}

{% macro cohort_sizes(members) -%}
    select cohort_type, cohort_date, brand_id, count(*) as cohort_size
    from {{ members }}
    group by cohort_type, cohort_date, brand_id
{%- endmacro %}

{% macro mature_offsets(cohorts, data_end, max_offset) -%}
    select cohorts.*, day_offset
    from {{ cohorts }} as cohorts
    cross join {{ data_end }} as data_end
    cross join lateral generate_series(
        0, least({{ max_offset }}, data_end.last_day - cohorts.cohort_date)) as day_offset
{%- endmacro %}
