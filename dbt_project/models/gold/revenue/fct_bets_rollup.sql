-- Grain: one row per (granularity, bucket_start, brand_id, region, provider_id, game_id,
-- currency): settled bets (int_bets, each bet once, at its last bet.settled) in UTC time
-- buckets of 1 minute, 5 minutes, 1 hour and 1 day holding the settlement's occurred_at.
-- The 5m, 1h and 1d rows are rolled up from the 1m rows, so their sums agree by construction.
--
-- Incremental: `day` (the UTC day holding the bucket) is the unique key. A run recomputes,
-- from silver, every day a bet changed since the last run can have been counted on
-- ([first_settlement_date, settled_date] of int_bets rows above the watermark); the pre-hook
-- first deletes those days, so a day left without bets (its only bet was resettled on a later
-- day) does not keep stale rows.
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

bets as (

    select * from {{ ref('int_bets') }}

),

{% if is_incremental() %}
touched_days as (

    -- reads int_bets itself: a CTE referenced twice would be materialized in full; the
    -- pre-hook deletes the same days (macros/changed_days.sql)
    {{ recomputed_days(ref('int_bets'), 'first_settlement_date', 'settled_date') }}

),
{% endif %}

settled_bets as (

    select * from bets
    where settled_at is not null
        {% if is_incremental() %}
        and settled_date in (select day from touched_days)
        {% endif %}

),

minute_buckets as (

    select
        date_trunc('minute', settled_at, 'UTC') as bucket_start,
        brand_id,
        region,
        provider_id,
        game_id,
        currency,
        count(*) as bets_settled,
        sum(stake_minor) as stake_minor,
        sum(win_minor) as win_minor

    from settled_bets
    group by 1, 2, 3, 4, 5, 6

),

buckets as (

    select '1m' as granularity, * from minute_buckets

    union all

    select
        '5m',
        -- 5-minute buckets start at minutes 0, 5, 10, ... (UTC, like every offset from the epoch)
        date_bin(interval '5 minutes', bucket_start, timestamptz '2000-01-01 00:00:00+00'),
        brand_id, region, provider_id, game_id, currency,
        sum(bets_settled), sum(stake_minor), sum(win_minor)
    from minute_buckets
    group by 2, 3, 4, 5, 6, 7

    union all

    select
        '1h',
        date_trunc('hour', bucket_start, 'UTC'),
        brand_id, region, provider_id, game_id, currency,
        sum(bets_settled), sum(stake_minor), sum(win_minor)
    from minute_buckets
    group by 2, 3, 4, 5, 6, 7

    union all

    select
        '1d',
        date_trunc('day', bucket_start, 'UTC'),
        brand_id, region, provider_id, game_id, currency,
        sum(bets_settled), sum(stake_minor), sum(win_minor)
    from minute_buckets
    group by 2, 3, 4, 5, 6, 7

),

final as (

    select
        granularity::text as granularity,
        bucket_start,
        brand_id,
        region,
        provider_id,
        game_id,
        currency,
        bets_settled::bigint as bets_settled,
        stake_minor::bigint as stake_minor,
        win_minor::bigint as win_minor,
        ({{ ggr('stake_minor', 'win_minor') }})::bigint as ggr_minor,
        {{ rtp('win_minor', 'stake_minor') }} as rtp,
        (bucket_start at time zone 'UTC')::date as day

    from buckets

)

select * from final
