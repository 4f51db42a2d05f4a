-- Grain: one row per reward grant (brand_id, device_id, level, reward_code): the rewards of
-- each level a device reached for the first time, granted by the event that reached it.
-- Rebuilt in full on every run (a small table: at most one grant per device, level and
-- reward code); a change to the level-rewards seed shows at the next run.
with

ledger as (

    select * from {{ ref('int_affinity_ledger') }}
    where rewarded_level_from is not null

),

level_rewards as (

    select * from {{ ref('affinity_level_rewards') }}

),

final as (

    select
        ledger.brand_id,
        ledger.player_id,
        ledger.device_id,
        level_rewards.level,
        level_rewards.reward_code,
        level_rewards.quantity,
        ledger.occurred_at as granted_at,
        ledger.event_id::text as event_id

    from ledger
    inner join level_rewards
        on level_rewards.level between ledger.rewarded_level_from and ledger.rewarded_level_to

)

select * from final
