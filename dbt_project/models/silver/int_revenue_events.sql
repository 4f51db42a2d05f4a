-- Grain: one row per deduplicated, valid event that carries a revenue fact other than a bet
-- (event_id): bonus.consumed (bonus cost), jackpot.contribution (jackpot) and
-- payment.captured (processing fee). With int_bets (stake and win, one settlement per bet),
-- the money facts of NGR; every revenue mart reads these two models.
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

-- one scan of int_events for the three event types (fields each type lacks are NULL)
revenue_events as (

    {{ valid_first_copies(
        ['bonus.consumed', 'jackpot.contribution', 'payment.captured'],
        ['game_id', 'amount_minor', 'fee_minor', 'currency']) }}

),

final as (

    select
        event_id,
        event_type,
        occurred_at,
        event_date,
        brand_id,
        region,
        player_id,
        currency,
        game_id,
        case when event_type = 'bonus.consumed' then amount_minor else 0 end
            as bonus_cost_minor,
        case when event_type = 'jackpot.contribution' then amount_minor else 0 end
            as jackpot_minor,
        -- fee_minor is optional and defaults to 0 on a capture (docs/input-contract.md)
        coalesce(fee_minor, 0) as fee_minor,
        batch_id

    from revenue_events

)

select * from final
