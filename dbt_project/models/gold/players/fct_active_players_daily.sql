-- Grain: one row per (day, brand_id), for every UTC day from the first to the last day with
-- data (int_event_days: any deduplicated event of any brand) and every brand with data, zeros
-- where nobody was active. dau / wau / mau: distinct active players (int_player_activity_daily)
-- over the 1 / 7 / 30 days ending on `day`.
--
-- Method (one pass, no 30x fan-out): per player, each active day a with previous active day p
-- adds the player to the windows of the days [greatest(a, p + N), a + N - 1] (N = 1, 7, 30),
-- pieces that never overlap; +1 / -1 markers at their ends, summed per (brand, day) and
-- accumulated over the calendar, count each player once per day.
--
-- Incremental: a run recomputes the days whose counts can have changed since the last run:
-- the 30 days from each day that gained activity (d .. d + 29, as wau and mau look back),
-- days new to the calendar, and every day when a new brand appears. To do so it reads the
-- activity from 29 days before the first such day: a window never reaches further back.
{{
    config(
        materialized='incremental',
        incremental_strategy='delete+insert',
        unique_key='day',
        on_schema_change='fail',
        post_hook="{{ record_batch_watermark() }}",
    )
}}

with

activity as (

    select brand_id, player_id, activity_date, batch_id
    from {{ ref('int_player_activity_daily') }}
    where is_active

),

event_days as (

    select * from {{ ref('int_event_days') }}

),

bounds as (

    select min(event_date) as first_day, max(event_date) as last_day
    from event_days

),

brands as (

    select distinct brand_id from event_days

),

calendar as (

    select generate_series(first_day, last_day, interval '1 day')::date as day
    from bounds
    where first_day is not null

),

{% if is_incremental() %}
published as (

    select min(day) as first_day, max(day) as last_day from {{ this }}

),

new_brands as (

    select brand_id from brands
    except
    select distinct brand_id from {{ this }}

),

changed_days as (

    select distinct activity_date
    from activity
    where batch_id > {{ batch_watermark() }}

    union

    -- a backfill range or the daily sweep (macros/forced_days.sql)
    select forced_day from ({{ forced_days() }}) as forced

),

touched_days as (

    select calendar.day
    from calendar
    cross join published
    where published.first_day is null
        or calendar.day < published.first_day
        or calendar.day > published.last_day
        or exists (select 1 from new_brands)

    union

    select calendar.day
    from changed_days
    inner join calendar
        on calendar.day between changed_days.activity_date and changed_days.activity_date + 29

),
{% else %}
touched_days as (

    select day from calendar

),
{% endif %}

scope as (

    select min(day) - 29 as from_day, max(day) as to_day
    from touched_days

),

scoped_activity as (

    select
        activity.brand_id,
        activity.player_id,
        activity.activity_date,
        lag(activity.activity_date) over (
            partition by activity.brand_id, activity.player_id
            order by activity.activity_date
        ) as previous_date
    from activity
    inner join scope
        on activity.activity_date between scope.from_day and scope.to_day

),

markers as (

    -- where each active day starts and stops adding its player to the 1-, 7- and 30-day
    -- windows (greatest() ignores a NULL previous_date)
    select
        scoped_activity.brand_id,
        marker.day,
        marker.dau,
        marker.wau,
        marker.mau
    from scoped_activity
    cross join lateral (
        values
        (scoped_activity.activity_date, 1, 0, 0),
        (scoped_activity.activity_date + 1, -1, 0, 0),
        (greatest(scoped_activity.activity_date, scoped_activity.previous_date + 7), 0, 1, 0),
        (scoped_activity.activity_date + 7, 0, -1, 0),
        (greatest(scoped_activity.activity_date, scoped_activity.previous_date + 30), 0, 0, 1),
        (scoped_activity.activity_date + 30, 0, 0, -1)
    ) as marker (day, dau, wau, mau)

),

daily_markers as (

    select
        brand_id,
        day,
        sum(dau) as dau,
        sum(wau) as wau,
        sum(mau) as mau
    from markers
    group by brand_id, day

),

spine as (

    select calendar.day, brands.brand_id
    from calendar
    cross join brands
    inner join scope
        on calendar.day between scope.from_day and scope.to_day

),

running as (

    select
        spine.day,
        spine.brand_id,
        sum(coalesce(daily_markers.dau, 0)) over brand_days as dau,
        sum(coalesce(daily_markers.wau, 0)) over brand_days as wau,
        sum(coalesce(daily_markers.mau, 0)) over brand_days as mau
    from spine
    left join daily_markers
        on daily_markers.brand_id = spine.brand_id
        and daily_markers.day = spine.day
    window brand_days as (
        partition by spine.brand_id order by spine.day rows unbounded preceding
    )

),

final as (

    select
        day,
        brand_id,
        dau::bigint as dau,
        wau::bigint as wau,
        mau::bigint as mau
    from running
    where day in (select day from touched_days)

)

select * from final
