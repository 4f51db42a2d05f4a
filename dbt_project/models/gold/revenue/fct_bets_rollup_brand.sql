-- Grain: one row per (granularity, bucket_start, brand_id, currency): fct_bets_rollup summed
-- over region, provider and game, so a brand's series reads about a hundred times fewer rows
-- (the dashboard's 30-day 5m series, the API's timeseries without a finer filter or group).
-- Summed from the candidate rollup, not from silver, so the two agree by construction.
--
-- Incremental like fct_bets_rollup: `day` is the unique key; a run recomputes the same days
-- (those a bet changed since this model's own watermark can have been counted on, and the
-- forced days), reading them from the rollup that has just recomputed them; the pre-hook
-- first deletes those days, so a day the rollup lost keeps no row here either.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='day',
        on_schema_change='fail',
        indexes=[{'columns': ['day']}],
        pre_hook="{{ delete_changed_days(ref('int_bets'), 'first_settlement_date', 'settled_date') }}",
        post_hook=["{{ record_candidate_changes() }}", "{{ record_batch_watermark() }}"],
    )
}}

with

rollup as (

    select * from {{ ref('fct_bets_rollup') }}

),

{% if is_incremental() %}
touched_days as (

    -- the days the rollup has just recomputed, and the pre-hook deleted here
    {{ recomputed_days(ref('int_bets'), 'first_settlement_date', 'settled_date') }}

),
{% endif %}

brand_buckets as (

    select
        granularity,
        bucket_start,
        brand_id,
        currency,
        day,
        sum(bets_settled) as bets_settled,
        sum(stake_minor) as stake_minor,
        sum(win_minor) as win_minor

    from rollup
    {% if is_incremental() %}
    where day in (select day from touched_days)
    {% endif %}
    group by 1, 2, 3, 4, 5

),

final as (

    select
        granularity,
        bucket_start,
        brand_id,
        currency,
        bets_settled::bigint as bets_settled,
        stake_minor::bigint as stake_minor,
        win_minor::bigint as win_minor,
        ({{ ggr('stake_minor', 'win_minor') }})::bigint as ggr_minor,
        {{ rtp('win_minor', 'stake_minor') }} as rtp,
        day

    from brand_buckets

)

select * from final
