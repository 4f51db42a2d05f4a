-- Grain: one row per deduplicated, valid event that carries a revenue fact (event_id):
-- bet.settled (stake, win), bonus.consumed (bonus cost), jackpot.contribution (jackpot)
-- and payment.captured (processing fee). The money facts of NGR, in one place.
{{
    config(
        unique_key='event_id',
        incremental_strategy='append',
        indexes=[
            {'columns': ['event_id'], 'unique': true},
            {'columns': ['event_date']},
            {'columns': ['batch_id']},
            {'columns': ['player_id', 'event_date']},
        ],
    )
}}

with

settled_bets as (

    {{ valid_first_copies(ref('stg_bets'), ['bet.settled']) }}

),

consumed_bonuses as (

    {{ valid_first_copies(ref('stg_bonuses'), ['bonus.consumed']) }}

),

jackpot_contributions as (

    {{ valid_first_copies(ref('stg_jackpot_contributions'), ['jackpot.contribution']) }}

),

captured_payments as (

    {{ valid_first_copies(ref('stg_payments'), ['payment.captured']) }}

),

unioned as (

    select
        event_id, event_type, occurred_at, event_date, brand_id, region, player_id, currency,
        game_id, provider_id,
        stake_minor, win_minor,
        0::bigint as bonus_cost_minor, 0::bigint as jackpot_minor, 0::bigint as fee_minor,
        batch_id
    from settled_bets

    union all

    select
        event_id, event_type, occurred_at, event_date, brand_id, region, player_id, currency,
        null, null,
        0, 0, amount_minor, 0, 0,
        batch_id
    from consumed_bonuses

    union all

    select
        event_id, event_type, occurred_at, event_date, brand_id, region, player_id, currency,
        game_id, null,
        0, 0, 0, amount_minor, 0,
        batch_id
    from jackpot_contributions

    union all

    select
        event_id, event_type, occurred_at, event_date, brand_id, region, player_id, currency,
        null, null,
        0, 0, 0, 0, fee_minor,
        batch_id
    from captured_payments

),

final as (

    select * from unioned

)

select * from final
