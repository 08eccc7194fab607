// The shipped alerts of docs/design/product.md §7: log search alerts over the reconciler's customEvents in
// Application Insights, all notifying one action group (e-mail).
// Event and property names are those of lib/telemetry/events.ts; infra/tests checks them against it.

import { tagsType } from 'types.bicep'

@description('Location of the alert rules.')
param location string

@description('Tags applied to every resource.')
param tags tagsType

@description('Prefix of the alert rule names.')
param namePrefix string

@description('Name of the action group.')
param actionGroupName string

@description('E-mail address that receives the alerts.')
param alertEmailAddress string

@description('Resource ID of the Application Insights component the reconciler reports to.')
param applicationInsightsId string

@description('Minutes between two scheduled runs (the interval of RECONCILE_SCHEDULE).')
@minValue(1)
@maxValue(960)
param reconcileIntervalMinutes int

// Window sizes (minutes) that log search alerts accept.
var supportedWindowMinutes = [5, 10, 15, 30, 45, 60, 120, 180, 240, 300, 360, 1440, 2880]

// Dead man: no run for 3 schedule intervals, rounded up to the next window the service accepts.
var deadManMinutes = first(filter(supportedWindowMinutes, minutes => minutes >= 3 * reconcileIntervalMinutes)) ?? 2880
var deadManWindow = deadManMinutes < 60
  ? 'PT${deadManMinutes}M'
  : deadManMinutes < 1440 ? 'PT${deadManMinutes / 60}H' : 'P${deadManMinutes / 1440}D'

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: actionGroupName
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'apim-ip-rec'
    enabled: true
    emailReceivers: [
      {
        name: 'operator'
        emailAddress: alertEmailAddress
        useCommonAlertSchema: true
      }
    ]
  }
}

var failedRunQuery = '''
customEvents
| where name == "Reconcile.Run"
| extend outcome = tostring(customDimensions.outcome)
| where outcome in ("failed", "partial")
| summarize runs = count() by outcome
'''

var blockedQuery = '''
customEvents
| where name == "Reconcile.Blocked"
| extend reason = tostring(customDimensions.reason)
| extend subject = coalesce(tostring(customDimensions.target), tostring(customDimensions.source))
| summarize blocked = count() by reason, subject
'''

var changeAppliedQuery = '''
customEvents
| where name == "Reconcile.Change"
| where tostring(customDimensions.result) == "applied"
| summarize changes = count() by target = tostring(customDimensions.target)
'''

var deadManQuery = '''
customEvents
| where name == "Reconcile.Run"
'''

resource runFailed 'Microsoft.Insights/scheduledQueryRules@2026-03-01' = {
  name: '${namePrefix}-run-failed'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'apim-ip-reconciler: a run failed or partly failed'
    description: 'A Reconcile.Run ended with outcome failed or partial: some target could not be read or written. See the workbook and the run\'s Reconcile.Change events (result failed, error).'
    severity: 1
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: failedRunQuery
          timeAggregation: 'Total'
          metricMeasureColumn: 'runs'
          dimensions: [
            {
              name: 'outcome'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource guardBlocked 'Microsoft.Insights/scheduledQueryRules@2026-03-01' = {
  name: '${namePrefix}-guard-blocked'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'apim-ip-reconciler: a guard blocked a change'
    description: 'A Reconcile.Blocked event: a guard (reason) held back the changes of a target or source. Its detail says what to check or change.'
    severity: 2
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: blockedQuery
          timeAggregation: 'Total'
          metricMeasureColumn: 'blocked'
          dimensions: [
            {
              name: 'reason'
              operator: 'Include'
              values: [
                '*'
              ]
            }
            {
              name: 'subject'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource changeApplied 'Microsoft.Insights/scheduledQueryRules@2026-03-01' = {
  name: '${namePrefix}-change-applied'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'apim-ip-reconciler: a change was applied'
    description: 'Informational: APIM\'s IP changed and the reconciler followed it (Reconcile.Change with result applied).'
    severity: 4
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT5M'
    autoMitigate: false
    criteria: {
      allOf: [
        {
          query: changeAppliedQuery
          timeAggregation: 'Total'
          metricMeasureColumn: 'changes'
          dimensions: [
            {
              name: 'target'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

resource deadMan 'Microsoft.Insights/scheduledQueryRules@2026-03-01' = {
  name: '${namePrefix}-dead-man'
  location: location
  tags: tags
  kind: 'LogAlert'
  properties: {
    displayName: 'apim-ip-reconciler: no run for 3 schedule intervals'
    description: 'No Reconcile.Run arrived for 3 schedule intervals (${deadManWindow}): the Function App is stopped, failing to start, or cannot send telemetry.'
    severity: 1
    enabled: true
    scopes: [
      applicationInsightsId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: deadManWindow
    autoMitigate: true
    criteria: {
      allOf: [
        {
          query: deadManQuery
          timeAggregation: 'Count'
          operator: 'LessThan'
          threshold: 1
          failingPeriods: {
            numberOfEvaluationPeriods: 1
            minFailingPeriodsToAlert: 1
          }
        }
      ]
    }
    actions: {
      actionGroups: [
        actionGroup.id
      ]
    }
  }
}

output actionGroupId string = actionGroup.id
output alertRuleIds string[] = [
  runFailed.id
  guardBlocked.id
  changeApplied.id
  deadMan.id
]
output deadManWindow string = deadManWindow
