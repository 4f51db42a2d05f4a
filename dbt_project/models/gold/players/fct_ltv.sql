-- Grain: one row per (cohort_type, cohort_date, brand_id, day_offset), day_offset 0..90,
-- mature offsets only (cohort_date + day_offset not after the last day with data), zeros
-- included. Cohorts as in fct_retention (int_players).
--
-- cumulative_ngr_eur_minor: NGR of the cohort's own players from cohort_date through
-- cohort_date + day_offset. NGR per player-day and currency as in fct_revenue_daily (macro
-- ngr: each bet once, at its last settlement; fees of the paying player), converted at the rate
-- of the revenue day, summed unrounded and rounded once at the end. ltv_eur_minor = the
-- unrounded cumulative NGR / cohort_size, rounded once at the end.
--
-- A table rebuilt each run from compact silver models (players, player-day revenue).
with

players as (

    select * from {{ ref('int_players') }}

),

revenue as (

    select * from {{ ref('int_player_revenue_daily') }}

),

fx as (

    select * from {{ ref('int_fx_rates_daily') }}

),

data_end as (

    select max(event_date) as last_day from {{ ref('int_event_days') }}

),

-- cohorts, their sizes and mature offsets: macros/cohorts.sql (shared with fct_retention)
cohort_members as (

    {{ cohort_members('players') }}

),

cohorts as (

    {{ cohort_sizes('cohort_members') }}

),

mature_offsets as (

    {{ mature_offsets('cohorts', 'data_end', 90) }}

),

member_revenue as (

    -- a revenue day in a currency without an FX rate yet cannot be converted: left out, as
    -- fct_revenue_daily leaves its *_eur_minor NULL
    select
        cohort_members.cohort_type,
        cohort_members.cohort_date,
        cohort_members.brand_id,
        revenue.revenue_date - cohort_members.cohort_date as day_offset,
        sum({{ to_eur_minor_unrounded(
            ngr('revenue.stake_minor', 'revenue.win_minor', 'revenue.bonus_cost_minor',
                'revenue.jackpot_minor', 'revenue.fees_minor'),
            'fx.eur_minor_per_minor') }}) as ngr_eur_minor_unrounded
    from cohort_members
    inner join revenue
        on revenue.brand_id = cohort_members.brand_id
        and revenue.player_id = cohort_members.player_id
        and revenue.revenue_date
        between cohort_members.cohort_date and cohort_members.cohort_date + 90
    left join fx
        on fx.currency = revenue.currency
        and fx.rate_date = revenue.revenue_date
    group by 1, 2, 3, 4

),

curve as (

    select
        mature_offsets.cohort_type,
        mature_offsets.cohort_date,
        mature_offsets.brand_id,
        mature_offsets.day_offset,
        mature_offsets.cohort_size,
        sum(coalesce(member_revenue.ngr_eur_minor_unrounded, 0)) over (
            partition by
                mature_offsets.cohort_type, mature_offsets.cohort_date,
                mature_offsets.brand_id
            order by mature_offsets.day_offset
            rows unbounded preceding
        ) as cumulative_ngr_eur_unrounded
    from mature_offsets
    left join member_revenue
        on member_revenue.cohort_type = mature_offsets.cohort_type
        and member_revenue.cohort_date = mature_offsets.cohort_date
        and member_revenue.brand_id = mature_offsets.brand_id
        and member_revenue.day_offset = mature_offsets.day_offset

),

final as (

    select
        cohort_type,
        cohort_date,
        brand_id,
        day_offset::integer as day_offset,
        cohort_size::bigint as cohort_size,
        {{ round_eur_minor('cumulative_ngr_eur_unrounded') }} as cumulative_ngr_eur_minor,
        {{ round_eur_minor('cumulative_ngr_eur_unrounded / nullif(cohort_size, 0)') }}
            as ltv_eur_minor
    from curve

)

select * from final
