-- Grain: one row per event_id: the deduplicated, valid events behind the game-server counters
-- (fct_economy_daily), first landed copy. Registrations are kept here too: the
-- counters need each (brand_id, player_id)'s first player.registered.
--
-- Incremental by batch (append): the batches above the highest one already here, up to the
-- run's horizon; nothing is dropped for being late.
{{
    config(
        unique_key='event_id',
        incremental_strategy='append',
        indexes=[
            {'columns': ['event_id'], 'unique': true},
            {'columns': ['event_date']},
            {'columns': ['batch_id']},
            {'columns': ['event_type', 'brand_id', 'player_id', 'occurred_at']},
        ],
    )
}}

with

first_copies as (

    {{ valid_first_copies([
        'player.registered',
        'credits.earn', 'credits.spend', 'gems.earn', 'gems.spend', 'gems.purchase',
        'dungeon.complete', 'craft.complete', 'pvp.battle', 'pvp.ranked.battle',
        'raid.complete', 'market.sale',
    ], ['amount', 'gems', 'amount_minor', 'currency']) }}

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
        amount,
        gems,
        amount_minor,
        currency,
        batch_id

    from first_copies

)

select * from final
