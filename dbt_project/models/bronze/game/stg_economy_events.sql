-- Grain: one row per landed copy (batch_id, line_no) of an event behind the game-server
-- counters: player.registered, credits.earn/spend, gems.earn/spend, gems.purchase
-- and the gameplay counters (dungeon, craft, pvp, ranked pvp, raid, market sale).
with

events as (

    select * from {{ ref('stg_events') }}
    where
        event_type in (
            'player.registered',
            'credits.earn', 'credits.spend', 'gems.earn', 'gems.spend', 'gems.purchase',
            'dungeon.complete', 'craft.complete', 'pvp.battle', 'pvp.ranked.battle',
            'raid.complete', 'market.sale'
        )

),

final as (

    select
        {{ envelope_columns() }},
        -- credits.* and gems.earn/spend: the in-game currency amount
        {{ json_bigint('payload', 'amount') }} as amount,
        -- gems.purchase: gems bought, and what they cost in real money
        {{ json_bigint('payload', 'gems') }} as gems,
        {{ json_bigint('payload', 'amount_minor') }} as amount_minor,
        {{ json_text('payload', 'currency') }} as currency

    from events

)

select * from final
