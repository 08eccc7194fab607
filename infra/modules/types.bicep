// Types shared by the modules.

@export()
@description('Resource tags.')
type tagsType = {
  *: string
}
