-- Grain: one row per (cohort_type, cohort_date, brand_id, day_offset), long format.
-- Cohorts (int_players): 'registration' by the UTC day of the first player.registered,
-- 'first_deposit' by the UTC day of the first payment.captured; a player is (brand_id,
-- player_id). Retained on day N: a return event (var retention_return_event_type, via
-- int_player_activity_daily.has_return_event) on exactly cohort_date + N ("classic"), N in
-- 0..30. Mature offsets only: a row exists when cohort_date + N is not after the last day
-- with data (the last UTC day of any deduplicated event, int_event_days), zeros included.
--
-- A table rebuilt each run from compact silver models (players, player-days).
with

players as (

    select * from {{ ref('int_players') }}

),

activity as (

    select brand_id, player_id, activity_date
    from {{ ref('int_player_activity_daily') }}
    where has_return_event

),

data_end as (

    select max(event_date) as last_day from {{ ref('int_event_days') }}

),

-- cohorts, their sizes and mature offsets: macros/cohorts.sql (shared with fct_ltv)
cohort_members as (

    {{ cohort_members('players') }}

),

cohorts as (

    {{ cohort_sizes('cohort_members') }}

),

mature_offsets as (

    {{ mature_offsets('cohorts', 'data_end', 30) }}

),

returns as (

    -- one activity row per player-day, so rows are distinct players
    select
        cohort_members.cohort_type,
        cohort_members.cohort_date,
        cohort_members.brand_id,
        activity.activity_date - cohort_members.cohort_date as day_offset,
        count(*) as retained_players
    from cohort_members
    inner join activity
        on activity.brand_id = cohort_members.brand_id
        and activity.player_id = cohort_members.player_id
        and activity.activity_date
        between cohort_members.cohort_date and cohort_members.cohort_date + 30
    group by 1, 2, 3, 4

),

final as (

    select
        mature_offsets.cohort_type,
        mature_offsets.cohort_date,
        mature_offsets.brand_id,
        mature_offsets.day_offset::integer as day_offset,
        mature_offsets.cohort_size::bigint as cohort_size,
        coalesce(returns.retained_players, 0)::bigint as retained_players,
        coalesce(returns.retained_players, 0)::numeric / nullif(mature_offsets.cohort_size, 0)
            as retention_rate
    from mature_offsets
    left join returns
        on returns.cohort_type = mature_offsets.cohort_type
        and returns.cohort_date = mature_offsets.cohort_date
        and returns.brand_id = mature_offsets.brand_id
        and returns.day_offset = mature_offsets.day_offset

)

select * from final
